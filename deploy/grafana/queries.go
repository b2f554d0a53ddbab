package grafana

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Data source types of the provisioned data sources.
const (
	ClickHouseType = "grafana-clickhouse-datasource"
	PrometheusType = "prometheus"
)

// Dashboard is the part of Grafana's dashboard JSON that the tests read.
type Dashboard struct {
	File       string  `json:"-"`
	UID        string  `json:"uid"`
	Title      string  `json:"title"`
	Panels     []Panel `json:"panels"`
	Templating struct {
		List []Variable `json:"list"`
	} `json:"templating"`
}

// Panel is one panel, or a row holding panels.
type Panel struct {
	ID          int      `json:"id"`
	Type        string   `json:"type"`
	Title       string   `json:"title"`
	Datasource  *DSRef   `json:"datasource"`
	Targets     []Target `json:"targets"`
	Panels      []Panel  `json:"panels"` // a collapsed row's panels
	FieldConfig struct {
		Defaults struct {
			Color struct {
				Mode       string `json:"mode"`
				FixedColor string `json:"fixedColor"`
			} `json:"color"`
			Thresholds struct {
				Steps []struct {
					Color string   `json:"color"`
					Value *float64 `json:"value"`
				} `json:"steps"`
			} `json:"thresholds"`
		} `json:"defaults"`
	} `json:"fieldConfig"`
}

// DSRef names a data source.
type DSRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

// Target is one query of a panel.
type Target struct {
	RefID      string `json:"refId"`
	Datasource *DSRef `json:"datasource"`
	EditorType string `json:"editorType"`
	QueryType  string `json:"queryType"`
	Format     *int   `json:"format"`
	RawSQL     string `json:"rawSql"`
	Expr       string `json:"expr"`
}

// Variable is a template variable.
type Variable struct {
	Type       string          `json:"type"`
	Name       string          `json:"name"`
	Datasource *DSRef          `json:"datasource"`
	Query      json.RawMessage `json:"query"`
	Multi      bool            `json:"multi"`
	IncludeAll bool            `json:"includeAll"`
}

// QueryText is the variable's query (this project writes them as strings).
func (v Variable) QueryText() (string, error) {
	var s string
	if err := json.Unmarshal(v.Query, &s); err != nil {
		return "", fmt.Errorf("variable %s: query is not a string: %w", v.Name, err)
	}
	return s, nil
}

// AllPanels flattens rows.
func (d *Dashboard) AllPanels() []Panel {
	var out []Panel
	for _, p := range d.Panels {
		out = append(out, p)
		out = append(out, p.Panels...)
	}
	return out
}

// LoadDashboards reads every dir/*.json.
func LoadDashboards(dir string) ([]*Dashboard, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, fmt.Errorf("find dashboards: %w", err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no dashboards found in %s", dir)
	}
	var out []*Dashboard
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		if !json.Valid(b) {
			return nil, fmt.Errorf("%s: not valid JSON", f)
		}
		d := &Dashboard{File: f}
		if err := json.Unmarshal(b, d); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		out = append(out, d)
	}
	return out, nil
}

// TimeRange is the dashboard's time picker.
type TimeRange struct{ From, To time.Time }

// ResolveVariables runs the dashboard's variable queries in order, as
// Grafana does, so that later ones see the earlier values. pick gives the
// value a user chose (it must be among the options); a variable not in pick
// takes every option when it allows "All", else its first. run executes a
// query on ClickHouse and returns the first column of each row.
func ResolveVariables(d *Dashboard, pick map[string]string, rng TimeRange, run func(sql string) ([]string, error)) (map[string][]string, error) {
	vars := map[string][]string{}
	for _, v := range d.Templating.List {
		q, err := v.QueryText()
		if err != nil {
			return nil, err
		}
		switch v.Type {
		case "constant", "textbox":
			vars[v.Name] = []string{q}
			continue
		case "custom":
			var opts []string
			for o := range strings.SplitSeq(q, ",") {
				opts = append(opts, strings.TrimSpace(o))
			}
			vars[v.Name] = opts
			continue
		case "query":
		default:
			return nil, fmt.Errorf("variable %s: type %s is not handled", v.Name, v.Type)
		}
		sql, err := Expand(q, vars, rng)
		if err != nil {
			return nil, fmt.Errorf("variable %s: %w", v.Name, err)
		}
		values, err := run(sql)
		if err != nil {
			return nil, fmt.Errorf("variable %s: %w\n%s", v.Name, err, sql)
		}
		if len(values) == 0 {
			return nil, fmt.Errorf("variable %s: the query returns no option\n%s", v.Name, sql)
		}
		switch want, ok := pick[v.Name]; {
		case ok:
			if !slices.Contains(values, want) {
				return nil, fmt.Errorf("variable %s: %s is not among its options %v", v.Name, want, values)
			}
			vars[v.Name] = []string{want}
		case v.IncludeAll:
			vars[v.Name] = values
		default:
			vars[v.Name] = values[:1]
		}
	}
	return vars, nil
}

var (
	timeFilterMacro = regexp.MustCompile(`\$__timeFilter\(([^()]+)\)`)
	variableRef     = regexp.MustCompile(`\$\{(\w+)(?::(\w+))?\}`)
)

// Expand does what Grafana and the ClickHouse plugin do to a query, for the
// macros and variable formats the dashboards use: $__timeFilter(col),
// $__fromTime, $__toTime, ${name} and ${name:singlequote}.
func Expand(sql string, vars map[string][]string, rng TimeRange) (string, error) {
	from, to := fmt.Sprintf("toDateTime(%d)", rng.From.Unix()), fmt.Sprintf("toDateTime(%d)", rng.To.Unix())
	sql = timeFilterMacro.ReplaceAllString(sql, "$1 >= "+from+" AND $1 <= "+to)
	sql = strings.NewReplacer("$__fromTime", from, "$__toTime", to).Replace(sql)
	var err error
	sql = variableRef.ReplaceAllStringFunc(sql, func(m string) string {
		sub := variableRef.FindStringSubmatch(m)
		vals, ok := vars[sub[1]]
		if !ok {
			err = fmt.Errorf("unknown variable %s", m)
			return m
		}
		switch sub[2] {
		case "":
			return strings.Join(vals, ",")
		case "singlequote":
			q := make([]string, len(vals))
			for i, v := range vals {
				q[i] = "'" + strings.ReplaceAll(v, "'", `\'`) + "'"
			}
			return strings.Join(q, ",")
		default:
			err = fmt.Errorf("format %s of %s is not handled", sub[2], m)
			return m
		}
	})
	if err != nil {
		return "", err
	}
	if i := strings.Index(sql, "$"); i >= 0 {
		return "", fmt.Errorf("unexpanded macro or variable at %q", sql[i:min(len(sql), i+30)])
	}
	return sql, nil
}
