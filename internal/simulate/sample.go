package simulate

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/layoffwatch/layoffwatch/internal/firms"
	"github.com/layoffwatch/layoffwatch/internal/region"
	"github.com/layoffwatch/layoffwatch/internal/report"
)

// The tables below are read-only. Shares are in percent and are allocated as
// exact quotas (largest remainder), not drawn firm by firm, and sizes are
// drawn by stratified sampling, so that the national sample rules hold for
// every seed and every sample size: manufacturing (C) 32% ≤ 40%,
// state-owned 20% ≤ 1/3, SMEs (< 300 staff) about 69% ≥ 60% (with the
// default SizeAlpha), 17 industries ≥ 5, nobody below 100 staff at
// enrolment.

// industryShares covers 17 GB/T 4754-2017 sections.
var industryShares = []share[byte]{
	{'A', 4}, {'B', 5}, {'C', 32}, {'D', 5}, {'E', 10}, {'F', 9}, {'G', 6}, {'H', 5}, {'I', 4},
	{'J', 3}, {'K', 3}, {'L', 3}, {'M', 3}, {'N', 2}, {'P', 2}, {'Q', 2}, {'R', 2},
}

// sizes returns n baseline headcounts from a Pareto law with exponent
// alpha truncated to lo..hi (P(size > x) ∝ x^−alpha), shuffled. The
// quantiles are stratified — the k-th size is drawn from the k-th n-th of
// the distribution — so the shape holds for small samples too: a few
// firms of 5,000–20,000 staff, two in three below 300.
func sizes(r *rng, n int, alpha, lo, hi float64) []uint32 {
	out := make([]uint32, n)
	tail := 1 - math.Pow(lo/hi, alpha) // mass below hi
	for k := range out {
		u := (float64(k) + r.float()) / float64(n)
		x := lo * math.Pow(1-u*tail, -1/alpha)
		out[k] = uint32(min(max(math.Floor(x), lo), hi))
	}
	r.shuffle(n, func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// ownershipShares excludes "state", which goes to the firms with the highest
// state score (large firms in mining, utilities and public services).
const stateShare = 20

var ownershipShares = []share[string]{
	{"collective", 3}, {"private", 55}, {"mixed", 10}, {"foreign", 3}, {"hmt", 3}, {"other", 6},
}

// stateBonus raises the chance of state ownership by industry.
var stateBonus = map[byte]float64{
	'B': 2, 'D': 2, 'N': 1.5, 'P': 1.5, 'Q': 1.5, 'G': 1, 'J': 1, 'C': 0.3,
	'F': -0.5, 'H': -0.5, 'I': -0.5, 'K': -0.5, 'L': -0.5, 'M': -0.3, 'R': -0.3,
}

// prefectureWeights leans on Lanzhou, the provincial capital; a prefecture
// missing here (a changed region table) gets weight 3.
var prefectureWeights = map[string]int{
	"620100": 28, "620200": 4, "620300": 4, "620400": 7, "620500": 9, "620600": 6, "620700": 6,
	"620800": 6, "620900": 7, "621000": 7, "621100": 5, "621200": 5, "622900": 4, "623000": 2,
}

// Name parts. A name is place + trade name + industry word + legal form,
// e.g. 兰州宏达机械制造有限公司.
var (
	tradeFirst  = []rune("宏金华鑫恒瑞天博永海新中同兴亚万荣嘉福昌润德泰广飞正佳凯明晨东康盛安丰九鼎聚昊锦陇祁雪河")
	tradeSecond = []rune("达泰源盛通丰成远瑞和宇天信阳美光方鑫图程隆发辉昌汇诚利兴润恒川峰华康泽邦森茂晟业")
	// industryWords is indexed by section letter − 'A'.
	industryWords = [20][]string{
		0 /* A */ : {"农业科技", "牧业", "种业", "现代农业", "林果开发"},
		'B' - 'A':  {"矿业", "煤业", "有色金属", "矿产开发"},
		'C' - 'A':  {"机械制造", "化工", "食品", "建材", "铝业", "制药", "纺织", "新材料", "电子科技", "装备制造", "乳业", "石化设备"},
		'D' - 'A':  {"电力", "新能源", "热力", "燃气", "光伏发电", "风电"},
		'E' - 'A':  {"建筑工程", "建设工程", "路桥工程", "市政工程", "建筑安装工程"},
		'F' - 'A':  {"商贸", "物资", "百货", "医药连锁", "农资"},
		'G' - 'A':  {"物流", "运输", "客运", "仓储", "快递"},
		'H' - 'A':  {"酒店管理", "餐饮管理", "宾馆", "饭店"},
		'I' - 'A':  {"信息技术", "软件", "网络科技", "数据科技"},
		'J' - 'A':  {"融资担保", "小额贷款", "保险代理"},
		'K' - 'A':  {"房地产开发", "置业", "物业管理"},
		'L' - 'A':  {"商务服务", "人力资源服务", "设备租赁", "会展服务"},
		'M' - 'A':  {"工程设计", "检测技术", "勘察设计", "技术研究"},
		'N' - 'A':  {"环境工程", "水务", "园林绿化", "环卫服务"},
		'O' - 'A':  {"家政服务", "汽车维修"},
		'P' - 'A':  {"职业培训", "教育科技"},
		'Q' - 'A':  {"医院", "康复医疗", "健康管理"},
		'R' - 'A':  {"文化旅游", "文化传媒", "体育发展", "旅游开发"},
		'S' - 'A':  {"公共服务"},
		'T' - 'A':  {"国际合作"},
	}
	// ethnicSuffixes are stripped from autonomous county names.
	ethnicSuffixes = []string{"回族", "藏族", "裕固族", "蒙古族", "哈萨克族", "东乡族", "撒拉族", "保安族"}
)

type share[T any] struct {
	value  T
	weight int
}

// quotas splits n into counts proportional to the weights by the largest
// remainder method (ties go to the earlier entry), so the counts sum to n.
func quotas(n int, weights []int) []int {
	total := 0
	for _, w := range weights {
		total += w
	}
	counts := make([]int, len(weights))
	rem := make([]int, len(weights)) // remainder numerators, in units of 1/total
	left := n
	for i, w := range weights {
		counts[i] = n * w / total
		rem[i] = n * w % total
		left -= counts[i]
	}
	order := make([]int, len(weights))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(rem[b], rem[a]) })
	for k := 0; k < left; k++ {
		counts[order[k%len(order)]]++
	}
	return counts
}

// deal returns n values laid out by quota and shuffled.
func deal[T any](r *rng, n int, shares []share[T]) []T {
	weights := make([]int, len(shares))
	for i, s := range shares {
		weights[i] = s.weight
	}
	out := make([]T, 0, n)
	for i, c := range quotas(n, weights) {
		for range c {
			out = append(out, shares[i].value)
		}
	}
	r.shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// placer picks counties: prefectures by quota (every prefecture gets a firm
// once there are at least 14), counties within them by weight: districts
// (code suffix 01–20) 3, county-level cities (81–99) 2, counties 1.
type placer struct {
	counties map[string][]region.Region // by prefecture code
	weights  map[string][]int
	totals   map[string]int
}

func newPlacer(t *region.Table) (*placer, []share[string], error) {
	p := &placer{counties: map[string][]region.Region{}, weights: map[string][]int{}, totals: map[string]int{}}
	var prefs []share[string]
	for _, pref := range t.Prefectures() {
		cs := t.Counties(pref.Code)
		if len(cs) == 0 {
			continue
		}
		p.counties[pref.Code] = cs
		for _, c := range cs {
			w := 1
			switch suffix := c.Code[4:]; {
			case suffix <= "20":
				w = 3
			case suffix >= "81":
				w = 2
			}
			p.weights[pref.Code] = append(p.weights[pref.Code], w)
			p.totals[pref.Code] += w
		}
		w, ok := prefectureWeights[pref.Code]
		if !ok {
			w = 3
		}
		prefs = append(prefs, share[string]{pref.Code, w})
	}
	if len(prefs) == 0 {
		return nil, nil, fmt.Errorf("region table has no counties")
	}
	return p, prefs, nil
}

// prefectures returns n prefecture codes, shuffled.
func (p *placer) prefectures(r *rng, n int, prefs []share[string]) []string {
	if n < len(prefs) {
		return deal(r, n, prefs)
	}
	// one firm each first, the rest by weight
	out := deal(r, n-len(prefs), prefs)
	for _, s := range prefs {
		out = append(out, s.value)
	}
	r.shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

func (p *placer) county(r *rng, pref string) region.Region {
	x := r.intn(p.totals[pref])
	for i, w := range p.weights[pref] {
		if x < w {
			return p.counties[pref][i]
		}
		x -= w
	}
	return p.counties[pref][0] // unreachable
}

// shortName turns a division name into the form used in firm names:
// 兰州市 → 兰州, 张家川回族自治县 → 张家川, 城关区 → 城关.
func shortName(name string) string {
	switch name {
	case "东乡族自治县":
		return "东乡"
	case "嘉峪关市辖区":
		return "嘉峪关"
	}
	s := strings.TrimSuffix(strings.TrimSuffix(name, "自治州"), "自治县")
	for trimmed := true; trimmed; {
		trimmed = false
		for _, e := range ethnicSuffixes {
			if t := strings.TrimSuffix(s, e); t != s && utf8.RuneCountInString(t) >= 2 {
				s, trimmed = t, true
			}
		}
	}
	for _, suf := range []string{"市", "区", "县"} {
		if t := strings.TrimSuffix(s, suf); t != s && utf8.RuneCountInString(t) >= 2 {
			return t
		}
	}
	return s
}

// provinceShortName: 广东省 → 广东, 广西壮族自治区 → 广西, 北京市 → 北京.
func provinceShortName(name string) string {
	for _, suf := range []string{"维吾尔自治区", "壮族自治区", "回族自治区", "自治区", "特别行政区", "省", "市"} {
		if t := strings.TrimSuffix(name, suf); t != name {
			return t
		}
	}
	return name
}

// orgCode returns a 9-character organisation code (GB 11714): eight body
// characters and a check character. Two in three look like codes issued
// since 2015 ("MA" followed by letters and digits), the rest are all digits.
// Every character is in the credit-code alphabet.
func orgCode(r *rng) string {
	const alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
	var b [9]byte
	start := 0
	if r.intn(3) < 2 {
		b[0], b[1] = 'M', 'A'
		start = 2
	}
	for i := start; i < 8; i++ {
		if start == 2 {
			b[i] = alphabet[r.intn(len(alphabet))]
		} else {
			b[i] = byte('0' + r.intn(10))
		}
	}
	weights := [8]int{3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for i, c := range b[:8] {
		v := int(c - '0')
		if c >= 'A' {
			v = int(c-'A') + 10
		}
		sum += v * weights[i]
	}
	switch c := 11 - sum%11; c {
	case 10:
		b[8] = 'X'
	case 11:
		b[8] = '0'
	default:
		b[8] = byte('0' + c)
	}
	return string(b[:])
}

// creditCode builds an 18-character unified social credit code for an
// enterprise (9 = registered with market regulation, 1 = enterprise)
// registered in county.
func creditCode(county, org string) string {
	body := "91" + county + org
	return body + string(report.CreditCheckChar(body))
}

// sampleFirms draws the monitored sample. It returns the firms sorted by id.
func sampleFirms(opts Options, table *region.Table) ([]firms.Firm, error) {
	n := opts.Firms
	r := newRNG(opts.Seed, 0, 0, saltSample)
	pl, prefShares, err := newPlacer(table)
	if err != nil {
		return nil, err
	}
	industries := deal(&r, n, industryShares)
	heads := sizes(&r, n, opts.SizeAlpha, float64(opts.MinSize), float64(opts.MaxSize))
	prefs := pl.prefectures(&r, n, prefShares)

	list := make([]firms.Firm, n)
	relabel, names := relabelling(opts.Province, table)
	for i := range list {
		list[i].BaselineHeadcount = heads[i]
		list[i].Industry = string(industries[i])
		list[i].Region = relabel(pl.county(&r, prefs[i]).Code)
	}
	table = names

	// State ownership goes to the highest scores: big firms in mining,
	// utilities and public services are the state-owned ones.
	score := make([]float64, n)
	for i, f := range list {
		score[i] = math.Log(float64(f.BaselineHeadcount)) + stateBonus[f.Industry[0]] + 0.8*r.normal()
	}
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(score[b], score[a]) })
	nState := quotas(n, []int{stateShare, 100 - stateShare})[0]
	others := deal(&r, n-nState, ownershipShares)
	for k, i := range order {
		if k < nState {
			list[i].Ownership = "state"
		} else {
			list[i].Ownership = others[k-nState]
		}
	}

	// Names, ids and enrolment dates.
	usedNames := make(map[string]bool, n)
	usedIDs := make(map[string]bool, n)
	for i := range list {
		f := &list[i]
		f.Name = firmName(&r, table, f, usedNames)
		for {
			id := creditCode(f.Region, orgCode(&r))
			if !usedIDs[id] {
				usedIDs[id] = true
				f.ID = id
				break
			}
		}
		switch x := r.float(); {
		case x < opts.JoinShare && opts.Months > 1:
			// joins the sample during the run: replaces a firm that left
			p := opts.Start.Add(1 + r.intn(opts.Months-1))
			f.EnrolledFrom = p.Start().AddDate(0, 0, r.intn(28))
		default:
			// enrolled in one of the six years before the run
			p := opts.Start.Add(-1 - r.intn(72))
			f.EnrolledFrom = p.Start().AddDate(0, 0, r.intn(28))
			if x < opts.JoinShare+opts.LeaveShare && opts.Months > 2 {
				// leaves the sample during the run (the bureau replaces
				// it); not a closure
				f.EnrolledTo = dateOf(opts.Start.Add(2 + r.intn(opts.Months-2)))
			}
		}
	}
	slices.SortFunc(list, func(a, b firms.Firm) int { return strings.Compare(a.ID, b.ID) })
	return list, nil
}

// relabelling maps Gansu's county codes onto province's (Options.Province)
// and returns the table that names them; Gansu itself is left as it is.
func relabelling(province string, gansu *region.Table) (func(string) string, *region.Table) {
	if province == "" || province == "620000" {
		return func(c string) string { return c }, gansu
	}
	china := region.China()
	var target []region.Region
	for _, p := range china.Within(province).Prefectures() {
		if len(china.Counties(p.Code)) > 0 {
			target = append(target, p)
		}
	}
	m := map[string]string{}
	for i, p := range gansu.Prefectures() {
		to := target[i%len(target)]
		cs := china.Counties(to.Code)
		for j, c := range gansu.Counties(p.Code) {
			m[c.Code] = cs[j%len(cs)].Code
		}
	}
	return func(c string) string { return m[c] }, china
}

func firmName(r *rng, table *region.Table, f *firms.Firm, used map[string]bool) string {
	place := "甘肃"
	if prov := region.ProvinceOf(f.Region); prov != "620000" {
		if p, ok := table.Lookup(prov); ok {
			place = provinceShortName(p.Name)
		}
	}
	switch x := r.float(); {
	case f.Ownership == "state" && x < 0.5, x < 0.2:
		// 甘肃…: provincial firms
	case x < 0.75:
		if pref, ok := table.Lookup(region.PrefectureOf(f.Region)); ok {
			place = shortName(pref.Name)
		}
	default:
		if c, ok := table.Lookup(f.Region); ok {
			place = shortName(c.Name)
		}
	}
	words := industryWords[f.Industry[0]-'A']
	form := "有限公司"
	switch x := r.float(); {
	case f.BaselineHeadcount >= 1000 && x < 0.4:
		form = "集团有限公司"
	case f.Ownership == "state" && x < 0.8, x < 0.2:
		form = "有限责任公司"
	case f.BaselineHeadcount >= 300 && x < 0.35:
		form = "股份有限公司"
	}
	var name string
	for try := 0; ; try++ {
		a := tradeFirst[r.intn(len(tradeFirst))]
		b := tradeSecond[r.intn(len(tradeSecond))]
		if a == b {
			continue
		}
		name = place + string([]rune{a, b}) + words[r.intn(len(words))] + form
		if try >= 50 {
			// a crowded corner of the name space: number the firm
			name = place + string([]rune{a, b}) + words[r.intn(len(words))] + fmt.Sprintf("第%d", try) + form
		}
		if !used[name] {
			used[name] = true
			return name
		}
	}
}

// enrolledPeriod is the first period a firm reports in.
func enrolledPeriod(f firms.Firm, start report.Period) report.Period {
	if f.EnrolledFrom.IsZero() {
		return start
	}
	return max(start, report.PeriodOf(f.EnrolledFrom))
}

// dateOf is the first day of period p, 00:00 UTC, as firms.Firm stores dates.
func dateOf(p report.Period) time.Time { return p.Start() }
