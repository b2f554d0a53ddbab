package firms

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/layoffwatch/layoffwatch/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// TestStoreContacts stores firms with and without contacts on the test
// ClickHouse, reads them back, and re-imports one without its contact,
// which clears it.
func TestStoreContacts(t *testing.T) {
	ctx := context.Background()
	st := NewStore(testenv.ClickHouse(t))
	list := []Firm{
		{ID: idA, Name: "兰州示例机械有限公司", Region: "620102", Industry: "C", BaselineHeadcount: 420,
			ContactName: "王芳", ContactEmail: "hr@example.cn", ContactPhone: "0931-8881234"},
		{ID: idB, Name: "y", Region: "620103", Industry: "G", BaselineHeadcount: 10},
	}
	if err := st.Upsert(ctx, list); err != nil {
		t.Fatal(err)
	}
	got, err := st.All(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, list) {
		t.Fatalf("All()\n got  %+v\n want %+v", got, list)
	}
	// a second import, a second later (updated_at has seconds), without the contact
	time.Sleep(1100 * time.Millisecond)
	cleared := list[0]
	cleared.ContactName, cleared.ContactEmail, cleared.ContactPhone = "", "", ""
	if err := st.Upsert(ctx, []Firm{cleared}); err != nil {
		t.Fatal(err)
	}
	got, err = st.All(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got[0].ContactEmail != "" || got[0].ContactName != "" {
		t.Errorf("after a re-import without contact: %+v", got[0])
	}
}
