package alertevent

import (
	"fmt"
	"time"
)

// Level is a warning level of the unemployment risk plan: I (the most
// severe, red) to IV (blue). The zero value is no level. In text — JSON,
// YAML, ClickHouse — a level is its Roman numeral.
type Level uint8

// The levels, most severe first.
const (
	LevelI Level = iota + 1
	LevelII
	LevelIII
	LevelIV
)

var levelNames = [...]string{"", "I", "II", "III", "IV"}

// Levels returns the four levels, most severe first.
func Levels() []Level { return []Level{LevelI, LevelII, LevelIII, LevelIV} }

// ParseLevel reads I, II, III or IV.
func ParseLevel(s string) (Level, error) {
	for l := LevelI; l <= LevelIV; l++ {
		if levelNames[l] == s {
			return l, nil
		}
	}
	return 0, fmt.Errorf("level %q is not one of I, II, III, IV", s)
}

// Valid reports whether l is one of I … IV.
func (l Level) Valid() bool { return l >= LevelI && l <= LevelIV }

// String is the Roman numeral; "" for no level.
func (l Level) String() string {
	if l.Valid() || l == 0 {
		return levelNames[l]
	}
	return fmt.Sprintf("Level(%d)", uint8(l))
}

// AtLeast reports whether l is at least as severe as other: LevelI is at
// least as severe as every level, LevelIV only as LevelIV. No level is
// never at least as severe as anything.
func (l Level) AtLeast(other Level) bool { return l.Valid() && other.Valid() && l <= other }

// Rank orders levels by severity for sorting: 1 for I … 4 for IV, and 5 for
// anything else, so that a missing level sorts last.
func (l Level) Rank() int {
	if l.Valid() {
		return int(l)
	}
	return 5
}

// MarshalText writes the numeral; no level is "" and anything else an error.
func (l Level) MarshalText() ([]byte, error) {
	if !l.Valid() && l != 0 {
		return nil, fmt.Errorf("invalid level %d", uint8(l))
	}
	return []byte(levelNames[l]), nil
}

// UnmarshalText reads a numeral; "" is no level.
func (l *Level) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*l = 0
		return nil
	}
	v, err := ParseLevel(string(b))
	if err != nil {
		return err
	}
	*l = v
	return nil
}

// Scope is what an alert is about: one firm, or a county, a prefecture or
// the province. In text a scope is its name (firm, county, prefecture,
// province). The zero value is no scope.
type Scope uint8

// The scopes, from the narrowest.
const (
	ScopeFirm Scope = iota + 1
	ScopeCounty
	ScopePrefecture
	ScopeProvince
)

var scopeNames = [...]string{"", "firm", "county", "prefecture", "province"}

// ScopeNames are the names of the scopes, from the narrowest.
func ScopeNames() []string { return append([]string(nil), scopeNames[1:]...) }

// ParseScope reads firm, county, prefecture or province.
func ParseScope(s string) (Scope, error) {
	for sc := ScopeFirm; sc <= ScopeProvince; sc++ {
		if scopeNames[sc] == s {
			return sc, nil
		}
	}
	return 0, fmt.Errorf("scope %q is not one of firm, county, prefecture, province", s)
}

// Valid reports whether s is one of the four scopes.
func (s Scope) Valid() bool { return s >= ScopeFirm && s <= ScopeProvince }

// IsRegion reports whether s is a region scope: county, prefecture or
// province.
func (s Scope) IsRegion() bool { return s.Valid() && s != ScopeFirm }

// String is the scope's name; "" for no scope.
func (s Scope) String() string {
	if s.Valid() || s == 0 {
		return scopeNames[s]
	}
	return fmt.Sprintf("Scope(%d)", uint8(s))
}

// MarshalText writes the name; no scope is "" and anything else an error.
func (s Scope) MarshalText() ([]byte, error) {
	if !s.Valid() && s != 0 {
		return nil, fmt.Errorf("invalid scope %d", uint8(s))
	}
	return []byte(scopeNames[s]), nil
}

// UnmarshalText reads a name; "" is no scope.
func (s *Scope) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*s = 0
		return nil
	}
	v, err := ParseScope(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// LevelFacts is what a risk plan says about one of its levels: the level's
// name, its colour, what officials must do, and how soon they must
// acknowledge (the response deadline; escalation follows when nobody does).
// The detector copies them from its plan onto every event, so the alerts
// component quotes the plan in force when the event was raised and never
// reads the plan itself. A plan gives every level a name, so facts that are
// all empty mean "not carried" (an event recorded before events carried
// them).
type LevelFacts struct {
	NameZh          string `json:"name_zh"` // 红色
	NameEn          string `json:"name_en"` // red
	Color           string `json:"color"`   // "#d32f2f"
	ActionZh        string `json:"action_zh"`
	ActionEn        string `json:"action_en"`
	ResponseSeconds uint32 `json:"response_seconds"` // 0: no deadline, never escalated
}

// Response is the response deadline (0: none).
func (f LevelFacts) Response() time.Duration { return time.Duration(f.ResponseSeconds) * time.Second }

// IsZero reports whether no facts are carried.
func (f LevelFacts) IsZero() bool { return f == LevelFacts{} }

// DefaultLevelFacts are the level facts of the shipped default plan
// (deploy/plans/default.yaml; a detector test keeps them equal). They stand
// in for the facts of events recorded before events carried them, so that
// such alerts still name their level and still escalate (I and II after 2
// hours, III after 12, IV never). A level outside I … IV has none.
func DefaultLevelFacts(l Level) LevelFacts {
	switch l {
	case LevelI:
		return LevelFacts{NameZh: "红色", NameEn: "red", Color: "#d32f2f", ResponseSeconds: 2 * 3600,
			ActionZh: "2小时内报告省人社厅和当地政府；启动失业风险应急预案，派工作组进驻企业，落实稳岗返还、转岗培训和失业保险待遇。",
			ActionEn: "Report to the provincial human-resources department and the local government within 2 hours; activate the unemployment risk emergency plan, send a working group to the firm, arrange job-retention refunds, retraining and unemployment-insurance benefits."}
	case LevelII:
		return LevelFacts{NameZh: "橙色", NameEn: "orange", Color: "#f57c00", ResponseSeconds: 2 * 3600,
			ActionZh: "2小时内报告市（州）政府；核实裁员规模，指导企业依法制定裁员方案，准备再就业服务。",
			ActionEn: "Report to the prefecture government within 2 hours; verify the scale of the cuts, guide the firms to a lawful layoff plan, prepare re-employment services."}
	case LevelIII:
		return LevelFacts{NameZh: "黄色", NameEn: "yellow", Color: "#fbc02d", ResponseSeconds: 12 * 3600,
			ActionZh: "12小时内报告；核实情况，约谈企业，跟踪监测并提供就业服务。",
			ActionEn: "Report within 12 hours; verify the facts, meet the firm, monitor closely and offer employment services."}
	case LevelIV:
		return LevelFacts{NameZh: "蓝色", NameEn: "blue", Color: "#1976d2",
			ActionZh: "纳入重点监测；核实数据，了解原因，必要时上门走访。",
			ActionEn: "Put under close monitoring; verify the figures, find out the cause, visit the firm where needed."}
	}
	return LevelFacts{}
}
