package detector

import (
	"strings"
	"testing"
	"time"
)

// TestOptionsSharded: the options that divide the work between replicas
// are checked before anything starts; a lease timeout of 0 (it also
// bounds a sharded replica's alert writes) is refused with static shards
// as with ZooKeeper.
func TestOptionsSharded(t *testing.T) {
	base, err := DefaultOptions()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		edit func(*Options)
		want string // "" : valid
	}{
		{"defaults", func(*Options) {}, ""},
		{"static shards", func(o *Options) { o.Shards, o.Shard = 2, 1 }, ""},
		{"shard out of range", func(o *Options) { o.Shards, o.Shard = 2, 2 }, "shard 2 of 2"},
		{"both ways", func(o *Options) { o.Shards, o.ZooKeeper = 2, "127.0.0.1:2181" }, "give one"},
		{"static shards, no lease timeout", func(o *Options) { o.Shards, o.LeaseTimeout = 2, 0 }, "lease timeout"},
		{"zookeeper, short lease", func(o *Options) { o.ZooKeeper, o.LeaseTimeout = "127.0.0.1:2181", 500*time.Millisecond }, "lease timeout"},
		{"one replica, no lease timeout", func(o *Options) { o.LeaseTimeout = 0 }, ""},
		{"relative zookeeper root", func(o *Options) { o.ZooKeeper, o.ZooKeeperRoot = "127.0.0.1:2181", "lw" }, "must start with /"},
	} {
		o := base
		c.edit(&o)
		err := o.Validate()
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: %v, want an error saying %q", c.name, err, c.want)
		}
	}
}
