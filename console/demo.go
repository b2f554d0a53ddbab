package console

import (
	"context"
	"fmt"
	"strings"

	"github.com/layoffwatch/layoffwatch/internal/chdb"
	"github.com/layoffwatch/layoffwatch/internal/region"
)

// DemoAccount is an account made for the demo, with its password.
type DemoAccount struct {
	Username, Password, Name string
	Role                     Role
	Region                   string
}

func (a DemoAccount) String() string {
	return fmt.Sprintf("%-10s %-22s %-10s %s (%s)", a.Username, a.Password, a.Role, a.Name, a.Region)
}

// DemoAccounts makes (or resets the passwords of) one account per level of
// government for `layoffwatch local --serve`: the province's administrator,
// a prefecture's supervisor, a county's official and a county's read-only
// observer, with fresh random passwords the demo prints. county is the
// county whose warnings the demo shows (its prefecture and province follow).
func DemoAccounts(ctx context.Context, ch *chdb.Client, county string) ([]DemoAccount, error) {
	if region.LevelOf(county) != region.County {
		return nil, fmt.Errorf("demo accounts: %s is not a county code", county)
	}
	regions := region.China()
	name := func(code string) string {
		if r, ok := regions.Lookup(code); ok {
			return r.Name
		}
		return code
	}
	prov, pref := region.ProvinceOf(county), region.PrefectureOf(county)
	list := []DemoAccount{
		{Username: "province", Role: Admin, Region: prov, Name: name(prov) + "人社厅就业处"},
		{Username: "prefecture", Role: Supervisor, Region: pref, Name: name(pref) + "人社局"},
		{Username: "county", Role: Official, Region: county, Name: name(pref) + name(county) + "人社局"},
		{Username: "observer", Role: ReadOnly, Region: county, Name: name(county) + "（只读）"},
	}
	m := NewUsers(ch, "local")
	existing, err := m.List(ctx)
	if err != nil {
		return nil, err
	}
	have := map[string]bool{}
	for _, u := range existing {
		have[u.Username] = true
	}
	for i := range list {
		a := &list[i]
		a.Password = RandomPassword()
		if have[a.Username] {
			if err := m.ResetPassword(ctx, a.Username, a.Password); err != nil {
				return nil, err
			}
			continue
		}
		u := User{Username: a.Username, Name: a.Name, Email: a.Username + "@demo.layoffwatch.example", Role: a.Role, Region: a.Region}
		if err := m.Add(ctx, u, a.Password); err != nil {
			return nil, fmt.Errorf("demo account %s: %w", a.Username, err)
		}
	}
	return list, nil
}

// DemoTable prints the accounts for the demo's output.
func DemoTable(url string, list []DemoAccount) string {
	var b strings.Builder
	fmt.Fprintf(&b, "console %s — sign in as (one account per level of government):\n", url)
	for _, a := range list {
		b.WriteString("  " + a.String() + "\n")
	}
	return b.String()
}
