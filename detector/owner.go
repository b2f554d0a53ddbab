package detector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/layoffwatch/layoffwatch/internal/region"
)

// Who evaluates what, when detect runs as several replicas. The units are
// the prefectures of the registry (weighed by their firms) and the
// provinces (whose rules one replica evaluates from every prefecture's
// partial). Every replica computes the same assignment from the same
// inputs — the units and the live replicas — and holds what it is
// assigned:
//
//	static (--shards n --shard i): replica i of n holds its units; no
//	    failover (a replica down leaves its units unevaluated until it
//	    returns).
//	leases (--zookeeper): each replica registers an ephemeral member node;
//	    a unit is held by creating its ephemeral lease node, which only one
//	    session can hold. A replica releases what it is no longer assigned
//	    (after its last pass over it) and takes what it is assigned once
//	    free. When a replica dies its session expires, its member and lease
//	    nodes vanish, and the others take its units over; when one joins,
//	    the others release what is now its.
//
// A replica emits an alert only for a unit it holds, and only while its
// ZooKeeper session is alive (valid): no two replicas emit for one unit.
type owner interface {
	// claim brings what the replica holds in line with its assignment
	// over units (unit code → weight) and returns what it holds.
	claim(ctx context.Context, units map[string]int) (map[string]bool, error)
	// valid reports whether the replica may act on what claim returned.
	valid() bool
	close()
}

// assign spreads units over members (sorted ids): heaviest unit first, each
// to the member with the least weight so far (the first of equals). Ties
// between units go by code, so every replica computes the same.
func assign(units map[string]int, members []string) map[string]string {
	codes := make([]string, 0, len(units))
	for c := range units {
		codes = append(codes, c)
	}
	sort.Slice(codes, func(i, j int) bool {
		a, b := codes[i], codes[j]
		if units[a] != units[b] {
			return units[a] > units[b]
		}
		return a < b
	})
	out := make(map[string]string, len(codes))
	if len(members) == 0 {
		return out
	}
	load := make([]int, len(members))
	for _, c := range codes {
		best := 0
		for i := range members {
			if load[i] < load[best] {
				best = i
			}
		}
		load[best] += max(units[c], 1)
		out[c] = members[best]
	}
	return out
}

// units are the units of a registry directory (prefecture → firms): every
// prefecture weighed by its firms, every province by 1.
func unitsOf(directory map[string]int) map[string]int {
	out := make(map[string]int, len(directory))
	for pref, n := range directory {
		out[pref] = n
		out[region.ProvinceOf(pref)] = 1
	}
	return out
}

// staticOwner is replica shard of shards, without leases.
type staticOwner struct{ shard, shards int }

func (s staticOwner) claim(_ context.Context, units map[string]int) (map[string]bool, error) {
	members := make([]string, s.shards)
	for i := range members {
		members[i] = fmt.Sprintf("%06d", i) // sorted as numbers
	}
	me := members[s.shard]
	out := map[string]bool{}
	for u, m := range assign(units, members) {
		if m == me {
			out[u] = true
		}
	}
	return out, nil
}

func (staticOwner) valid() bool { return true }
func (staticOwner) close()      {}

// zkOwner holds units by leases in ZooKeeper under root:
//
//	root/members/<id>   ephemeral: this replica is alive
//	root/leases/<unit>  ephemeral, data <id>: this replica holds the unit
type zkOwner struct {
	conn    *zk.Conn
	root    string
	id      string
	log     *slog.Logger
	mu      sync.Mutex
	session int64           // the session held and member were made in
	held    map[string]bool // leases held in that session
	// settle is how long after registering the replica takes no unit, so
	// that replicas started together see each other first and each loads
	// only its share (not every unit, to release most of it a moment
	// later, its memory's peak already reached)
	settle time.Duration
	joined time.Time
}

// zkLog is ZooKeeper's client log, at debug level (it reports every
// reconnection attempt).
type zkLog struct{ log *slog.Logger }

func (l zkLog) Printf(format string, args ...any) { l.log.Debug(fmt.Sprintf(format, args...)) }

// newZKOwner connects to ZooKeeper (servers: host:port, comma-separated)
// and makes the root's nodes.
func newZKOwner(ctx context.Context, servers, root, id string, timeout, settle time.Duration, log *slog.Logger) (*zkOwner, error) {
	conn, events, err := zk.Connect(strings.Split(servers, ","), timeout, zk.WithLogger(zkLog{log}), zk.WithLogInfo(false))
	if err != nil {
		return nil, fmt.Errorf("connect to zookeeper %s: %w", servers, err)
	}
	go func() {
		for e := range events {
			if e.Type == zk.EventSession {
				log.Debug("zookeeper session", "state", e.State.String())
			}
		}
	}()
	z := &zkOwner{conn: conn, root: root, id: id, log: log, held: map[string]bool{}, settle: settle}
	deadline := time.Now().Add(timeout + 5*time.Second)
	for conn.State() != zk.StateHasSession {
		if time.Now().After(deadline) || ctx.Err() != nil {
			conn.Close()
			return nil, fmt.Errorf("no zookeeper session with %s within %s", servers, timeout+5*time.Second)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, p := range []string{path.Join(root, "members"), path.Join(root, "leases")} {
		if err := z.mkdirAll(p); err != nil {
			conn.Close()
			return nil, err
		}
	}
	return z, nil
}

func (z *zkOwner) mkdirAll(p string) error {
	cur := ""
	for _, part := range strings.Split(strings.Trim(p, "/"), "/") {
		cur += "/" + part
		if _, err := z.conn.Create(cur, nil, 0, zk.WorldACL(zk.PermAll)); err != nil && !errors.Is(err, zk.ErrNodeExists) {
			return fmt.Errorf("zookeeper: create %s: %w", cur, err)
		}
	}
	return nil
}

func (z *zkOwner) claim(_ context.Context, units map[string]int) (map[string]bool, error) {
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.conn.State() != zk.StateHasSession {
		return nil, fmt.Errorf("zookeeper: no session (%s)", z.conn.State())
	}
	if sid := z.conn.SessionID(); sid != z.session {
		// a new session: the old one's member and leases are gone
		if len(z.held) > 0 {
			z.log.Warn("zookeeper session replaced: leases lost", "units", len(z.held))
		}
		z.held, z.session = map[string]bool{}, 0
		_, err := z.conn.Create(path.Join(z.root, "members", z.id), []byte(z.id), zk.FlagEphemeral, zk.WorldACL(zk.PermAll))
		if err != nil && !errors.Is(err, zk.ErrNodeExists) {
			return nil, fmt.Errorf("zookeeper: register member %s: %w", z.id, err)
		}
		if errors.Is(err, zk.ErrNodeExists) && !z.ours(path.Join(z.root, "members", z.id)) {
			// a previous process with this id whose session has not
			// expired yet: wait for it. (Ours: a create applied whose
			// answer was lost to a short disconnect.)
			return nil, fmt.Errorf("zookeeper: member %s is still registered by another session", z.id)
		}
		z.session, z.joined = sid, time.Now()
	}
	if time.Since(z.joined) < z.settle {
		return map[string]bool{}, nil
	}
	members, _, err := z.conn.Children(path.Join(z.root, "members"))
	if err != nil {
		return nil, fmt.Errorf("zookeeper: list members: %w", err)
	}
	slices.Sort(members)
	want := map[string]bool{}
	for u, m := range assign(units, members) {
		if m == z.id {
			want[u] = true
		}
	}
	for u := range z.held {
		if want[u] {
			continue
		}
		if err := z.conn.Delete(path.Join(z.root, "leases", u), -1); err != nil && !errors.Is(err, zk.ErrNoNode) {
			return nil, fmt.Errorf("zookeeper: release %s: %w", u, err)
		}
		delete(z.held, u)
	}
	for u := range want {
		if z.held[u] {
			continue
		}
		_, err := z.conn.Create(path.Join(z.root, "leases", u), []byte(z.id), zk.FlagEphemeral, zk.WorldACL(zk.PermAll))
		switch {
		case err == nil:
			z.held[u] = true
		case errors.Is(err, zk.ErrNodeExists) && z.ours(path.Join(z.root, "leases", u)):
			// our create was applied but its answer lost to a short
			// disconnect: the lease is ours
			z.held[u] = true
		case errors.Is(err, zk.ErrNodeExists):
			// its holder has not released it yet (or has died and its
			// session not expired yet): next pass
		default:
			return nil, fmt.Errorf("zookeeper: take %s: %w", u, err)
		}
	}
	out := make(map[string]bool, len(z.held))
	for u := range z.held {
		out[u] = true
	}
	return out, nil
}

// ours reports whether the ephemeral node at p belongs to this session.
func (z *zkOwner) ours(p string) bool {
	_, st, err := z.conn.Get(p)
	return err == nil && st != nil && st.EphemeralOwner == z.conn.SessionID()
}

func (z *zkOwner) valid() bool {
	z.mu.Lock()
	defer z.mu.Unlock()
	return z.conn.State() == zk.StateHasSession && z.conn.SessionID() == z.session && z.session != 0
}

// close ends the session: its member and leases vanish at once, and the
// others take the units over without waiting for a timeout.
func (z *zkOwner) close() { z.conn.Close() }

// Leases reads who holds each unit (unit → replica id) under root: for
// tests and `layoffwatch` operators' checks.
func Leases(servers, root string) (map[string]string, error) {
	conn, _, err := zk.Connect(strings.Split(servers, ","), 5*time.Second, zk.WithLogger(zkLog{slog.New(slog.DiscardHandler)}), zk.WithLogInfo(false))
	if err != nil {
		return nil, fmt.Errorf("connect to zookeeper %s: %w", servers, err)
	}
	defer conn.Close()
	units, _, err := conn.Children(path.Join(root, "leases"))
	if err != nil {
		return nil, fmt.Errorf("zookeeper: list leases: %w", err)
	}
	out := map[string]string{}
	for _, u := range units {
		b, _, err := conn.Get(path.Join(root, "leases", u))
		if errors.Is(err, zk.ErrNoNode) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("zookeeper: read lease %s: %w", u, err)
		}
		out[u] = string(b)
	}
	return out, nil
}

// replicaID is a default replica id: the host name and the process id.
func replicaID(host string, pid int) string {
	return strings.NewReplacer("/", "_", " ", "_").Replace(host) + "-" + strconv.Itoa(pid)
}
