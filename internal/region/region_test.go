package region

import (
	"encoding/csv"
	"strings"
	"testing"
)

func TestGansuPrefectures(t *testing.T) {
	// The 14 prefecture-level units of Gansu and how many county-level units
	// each has in the table (Jiayuguan has no counties; its "districts" code
	// 620201 stands in so that firms there can be registered).
	tests := []struct {
		code     string
		name     string
		counties int
	}{
		{"620100", "兰州市", 8},
		{"620200", "嘉峪关市", 1},
		{"620300", "金昌市", 2},
		{"620400", "白银市", 5},
		{"620500", "天水市", 7},
		{"620600", "武威市", 4},
		{"620700", "张掖市", 6},
		{"620800", "平凉市", 7},
		{"620900", "酒泉市", 7},
		{"621000", "庆阳市", 8},
		{"621100", "定西市", 7},
		{"621200", "陇南市", 9},
		{"622900", "临夏回族自治州", 8},
		{"623000", "甘南藏族自治州", 8},
	}
	g := Gansu()
	prefs := g.Prefectures()
	if len(prefs) != 14 {
		t.Fatalf("Gansu has %d prefectures in the table, want 14", len(prefs))
	}
	for i, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			if prefs[i].Code != tt.code || prefs[i].Name != tt.name || prefs[i].Level != Prefecture {
				t.Fatalf("prefecture %d = %+v, want %s %s", i, prefs[i], tt.code, tt.name)
			}
			if prefs[i].NameEn == "" {
				t.Errorf("%s has no English name", tt.code)
			}
			if n := len(g.Counties(tt.code)); n != tt.counties {
				t.Errorf("%s has %d counties, want %d", tt.code, n, tt.counties)
			}
		})
	}
}

func TestGansuTableIsConsistent(t *testing.T) {
	g := Gansu()
	prov, ok := g.Lookup("620000")
	if !ok || prov.Level != Province || prov.Name != "甘肃省" {
		t.Fatalf("province 620000 = %+v, %v", prov, ok)
	}
	counties := g.Counties("")
	if len(counties) != 87 {
		t.Errorf("%d county-level units, want 87 (86 and Jiayuguan's districts)", len(counties))
	}
	for _, c := range counties {
		p, ok := g.Lookup(PrefectureOf(c.Code))
		if !ok || p.Level != Prefecture {
			t.Errorf("county %s %s: prefecture %s is not in the table", c.Code, c.Name, PrefectureOf(c.Code))
		}
		if ProvinceOf(c.Code) != "620000" {
			t.Errorf("county %s is not in Gansu", c.Code)
		}
		if c.Name == "" || c.NameEn == "" {
			t.Errorf("county %s lacks a name: %+v", c.Code, c)
		}
		if err := g.CheckCounty(c.Code); err != nil {
			t.Errorf("CheckCounty(%s): %v", c.Code, err)
		}
	}
	for i := 1; i < len(counties); i++ {
		if counties[i-1].Code >= counties[i].Code {
			t.Fatalf("Counties not sorted at %s, %s", counties[i-1].Code, counties[i].Code)
		}
	}
	// The map would hide a code listed twice; read the raw file.
	rows, err := csv.NewReader(strings.NewReader(gansuCSV)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, row := range rows[1:] {
		if seen[row[0]] {
			t.Errorf("code %s listed twice", row[0])
		}
		seen[row[0]] = true
	}
	if len(seen) != 1+14+87 {
		t.Errorf("%d codes, want 102", len(seen))
	}
}

func TestLookup(t *testing.T) {
	tests := []struct {
		name   string
		code   string
		want   Region
		wantOK bool
	}{
		{name: "district", code: "620102", want: Region{"620102", "城关区", "Chengguan", County}, wantOK: true},
		{name: "county-level city", code: "620881", want: Region{"620881", "华亭市", "Huating", County}, wantOK: true},
		{name: "autonomous prefecture", code: "623000", want: Region{"623000", "甘南藏族自治州", "Gannan", Prefecture}, wantOK: true},
		{name: "apostrophe in name", code: "620522", want: Region{"620522", "秦安县", "Qin'an", County}, wantOK: true},
		{name: "unknown", code: "620199"},
		{name: "another province", code: "440305"},
		{name: "empty", code: ""},
	}
	g := Gansu()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := g.Lookup(tt.code)
			if ok != tt.wantOK || got != tt.want {
				t.Fatalf("Lookup(%q) = %+v, %v, want %+v, %v", tt.code, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestLevelOf(t *testing.T) {
	tests := []struct {
		code string
		want Level
	}{
		{"620000", Province},
		{"620100", Prefecture},
		{"622900", Prefecture},
		{"620102", County},
		{"620201", County},
		{"620110", County},
		{"621000", Prefecture},
		{"000000", Province},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			if got := LevelOf(tt.code); got != tt.want {
				t.Fatalf("LevelOf(%s) = %v, want %v", tt.code, got, tt.want)
			}
		})
	}
}

func TestLevelString(t *testing.T) {
	tests := []struct {
		l    Level
		want string
	}{
		{Province, "province"}, {Prefecture, "prefecture"}, {County, "county"}, {0, "unknown"}, {4, "unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.l.String(); got != tt.want {
				t.Fatalf("Level(%d).String() = %q, want %q", tt.l, got, tt.want)
			}
		})
	}
}

func TestPrefectureAndProvinceOf(t *testing.T) {
	tests := []struct {
		name     string
		code     string
		wantPref string
		wantProv string
	}{
		{name: "Lanzhou district", code: "620102", wantPref: "620100", wantProv: "620000"},
		{name: "Jiayuguan", code: "620201", wantPref: "620200", wantProv: "620000"},
		{name: "Linxia City", code: "622901", wantPref: "622900", wantProv: "620000"},
		{name: "Gannan county", code: "623027", wantPref: "623000", wantProv: "620000"},
		{name: "prefecture is its own", code: "620100", wantPref: "620100", wantProv: "620000"},
		{name: "short", code: "62010"},
		{name: "long", code: "6201021"},
		{name: "empty", code: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := PrefectureOf(tt.code); got != tt.wantPref {
				t.Errorf("PrefectureOf(%q) = %q, want %q", tt.code, got, tt.wantPref)
			}
			if got := ProvinceOf(tt.code); got != tt.wantProv {
				t.Errorf("ProvinceOf(%q) = %q, want %q", tt.code, got, tt.wantProv)
			}
		})
	}
}

func TestCheckCounty(t *testing.T) {
	tests := []struct {
		name    string
		code    string
		wantErr string // "" means valid
	}{
		{name: "district", code: "620102"},
		{name: "county", code: "621226"},
		{name: "Jiayuguan districts", code: "620201"},
		{name: "prefecture", code: "620100", wantErr: "is a prefecture"},
		{name: "province", code: "620000", wantErr: "is a province"},
		{name: "unknown county", code: "620199", wantErr: "not a known county-level code"},
		{name: "other province", code: "440305", wantErr: "not a known"},
		{name: "five digits", code: "62010", wantErr: "not a 6-digit"},
		{name: "letter", code: "62010a", wantErr: "not a 6-digit"},
		{name: "full-width digits", code: "６２０１０２", wantErr: "not a 6-digit"},
		{name: "space", code: " 620102", wantErr: "not a 6-digit"},
		{name: "empty", code: "", wantErr: "not a 6-digit"},
	}
	g := Gansu()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := g.CheckCounty(tt.code)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("CheckCounty(%q) = %v", tt.code, err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("CheckCounty(%q) = %v, want error containing %q", tt.code, err, tt.wantErr)
			}
		})
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		data    string
		wantErr string
		wantLen int
	}{
		{name: "small table", data: "code,name,name_en\n620000,甘肃省,Gansu\n620100,兰州市,Lanzhou\n620102,城关区,Chengguan\n", wantLen: 1},
		{name: "header only", data: "code,name,name_en\n", wantLen: 0},
		{name: "empty", data: "", wantErr: "header"},
		{name: "wrong header", data: "code,name\n620000,甘肃省\n", wantErr: "header"},
		{name: "bad code", data: "code,name,name_en\n62000,甘肃省,Gansu\n", wantErr: "line 2"},
		{name: "ragged row", data: "code,name,name_en\n620000,甘肃省\n", wantErr: "wrong number of fields"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tab, err := Parse(tt.data)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Parse = %v, want error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if n := len(tab.Counties("")); n != tt.wantLen {
				t.Fatalf("%d counties, want %d", n, tt.wantLen)
			}
		})
	}
}
