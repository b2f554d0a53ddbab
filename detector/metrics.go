package detector

import (
	"github.com/expr-lang/expr/types"
)

// The metrics a plan's conditions read are defined once, in the tables
// firmMetrics and regionMetrics below: each row names a metric, gives its
// type and meaning, and reads it from the firm's or region's month (FirmEnv,
// RegionEnv). Everything else is derived from the tables: the names and
// types expr checks conditions against, the closures conditions compile to
// (fast.go), the values a firing reports, the environment of the expr VM,
// and the metric tables of docs/risk-plans.md (TestRiskPlansDoc).
//
// To add a metric: compute it into a field of FirmEnv (computeFirm) or
// RegionEnv (group.metrics) — or derive it in the row's accessor — and add
// its row here; then `go test ./detector -run TestRiskPlansDoc -update`
// documents it, and alerts/email/labels.go may give it a readable name for
// emails.

// FirmEnv is one firm's month t, as firm-scope conditions see it through
// firmMetrics. Counts are float64 so that conditions mix them freely with
// rates.
type FirmEnv struct {
	Reported, Due                       bool
	Headcount, Vacancies, Hires         float64
	SepTotal                            float64
	SepEconomicLayoff                   float64
	SepClosureBankruptcy, SepSuspension float64
	SepContractExpiry, SepResignation   float64
	SepRetirement, SepTransfer          float64
	SepOther                            float64
	Baseline, Index                     float64

	HasPrev                                bool
	PrevGap, PrevHeadcount, PrevVacancies  float64
	Loss, Rate, Change                     float64
	Has1m, Has3m, Has12m                   bool
	Headcount1m, Headcount3m, Headcount12m float64
	Net3, Net3Rate, YoYRate                float64
	VacancyReports6m, VacancyMean6m        float64
	HistoryMonths                          float64
	SeasonalYears, SeasonalChange          float64
	SeasonalLoss, SeasonalRate             float64
	LayoffSeparations                      float64
	Industry, County, Prefecture           string
	lazy                                   firmLazy // statistics read on demand (stats.go)
}

// RegionEnv is one region's month t (a county, prefecture or the province,
// optionally one industry in it), as region-scope conditions see it through
// regionMetrics.
type RegionEnv struct {
	Region, Industry                          string
	FirmsExpected, FirmsReported, Coverage    float64
	Headcount, Baseline, Index, PrevHeadcount float64
	Loss, LossRate                            float64
	LossRateOK                                bool
	MoMFirms, MoMHeadcount, MoMPrevHeadcount  float64
	MoMChange                                 float64
	// the firm of the month-on-month set that lost most (its loss and its
	// H(t−1)), and the change without it
	MoMWorstLoss, MoMWorstPrev, MoMChangeRest float64
	SeasonalYears, SeasonalMoMChange          float64
	MoMExcess                                 float64
	LossRate3m, LossRate3mMin12, TrendRise    float64
	LossRate3mOK, TrendDefined                bool
	Firms                                     []*FirmEnv
	// against the expectation (stats.go)
	PanelFirms, PanelShare, PanelPrevHeadcount float64
	ExpectedRate, Sigma                        float64
	Z, ExcessRate, ExcessLoss                  float64
	Z3, ExcessRate3                            float64
	ZDefined, Z3Defined                        bool
	Breadth, FirmsZ, FirmsZ3                   float64
	ExcessRateRest, ExcessRate3Rest            float64
	FirmsZDefined, FirmsZ3Defined              bool
}

var firmMetrics = metrics[FirmEnv]{
	boolean("reported", "the firm has a report for t", func(e *FirmEnv) bool { return e.Reported }),
	boolean("due", "t is due: its reporting deadline has passed (in a backtest: t ≤ the latest month in the data)", func(e *FirmEnv) bool { return e.Due }),
	number("headcount", "H(t): employees at the end of t (latest revision)", func(e *FirmEnv) float64 { return e.Headcount }),
	number("vacancies", "V(t): open positions at the end of t", func(e *FirmEnv) float64 { return e.Vacancies }),
	number("hires", "people hired during t", func(e *FirmEnv) float64 { return e.Hires }),
	number("sep_total", "people who left during t, all reasons", func(e *FirmEnv) float64 { return e.SepTotal }),
	number("sep_economic_layoff", "separations by economic layoff", func(e *FirmEnv) float64 { return e.SepEconomicLayoff }),
	number("sep_closure_bankruptcy", "separations by closure or bankruptcy", func(e *FirmEnv) float64 { return e.SepClosureBankruptcy }),
	number("sep_suspension", "separations by suspension", func(e *FirmEnv) float64 { return e.SepSuspension }),
	number("sep_contract_expiry", "separations at contract expiry", func(e *FirmEnv) float64 { return e.SepContractExpiry }),
	number("sep_resignation", "resignations", func(e *FirmEnv) float64 { return e.SepResignation }),
	number("sep_retirement", "retirements", func(e *FirmEnv) float64 { return e.SepRetirement }),
	number("sep_transfer", "transfers", func(e *FirmEnv) float64 { return e.SepTransfer }),
	number("sep_other", "other separations", func(e *FirmEnv) float64 { return e.SepOther }),
	number("baseline_headcount", "headcount at enrolment (建档期)", func(e *FirmEnv) float64 { return e.Baseline }),
	number("index", "H(t) / baseline × 100 (0 when the baseline is 0)", func(e *FirmEnv) float64 { return e.Index }),
	boolean("has_prev", "prev exists: a report for one of t−1, t−2, t−3 (the latest of them is prev)", func(e *FirmEnv) bool { return e.HasPrev }),
	number("prev_gap", "t − prev in months (0 without prev)", func(e *FirmEnv) float64 { return e.PrevGap }),
	number("prev_headcount", "H(prev) (0 without prev)", func(e *FirmEnv) float64 { return e.PrevHeadcount }),
	number("prev_vacancies", "V(prev) (0 without prev)", func(e *FirmEnv) float64 { return e.PrevVacancies }),
	number("loss", "H(prev) − H(t) when positive, else 0 (0 without prev)", func(e *FirmEnv) float64 { return e.Loss }),
	number("rate", "loss / H(prev) (0 when H(prev) = 0)", func(e *FirmEnv) float64 { return e.Rate }),
	number("change", "H(t) − H(prev), signed (0 without prev)", func(e *FirmEnv) float64 { return e.Change }),
	boolean("has_1m", "a report exists for t−1", func(e *FirmEnv) bool { return e.Has1m }),
	number("headcount_1m", "H(t−1) (0 without it)", func(e *FirmEnv) float64 { return e.Headcount1m }),
	boolean("has_3m", "a report exists for t−3", func(e *FirmEnv) bool { return e.Has3m }),
	number("headcount_3m", "H(t−3) (0 without it)", func(e *FirmEnv) float64 { return e.Headcount3m }),
	number("net3", "H(t−3) − H(t), signed (0 unless has_3m and reported)", func(e *FirmEnv) float64 { return e.Net3 }),
	number("net3_rate", "net3 / H(t−3) (0 when H(t−3) = 0)", func(e *FirmEnv) float64 { return e.Net3Rate }),
	boolean("has_12m", "a report exists for t−12", func(e *FirmEnv) bool { return e.Has12m }),
	number("headcount_12m", "H(t−12) (0 without it)", func(e *FirmEnv) float64 { return e.Headcount12m }),
	number("yoy_rate", "(H(t) − H(t−12)) / H(t−12) (0 when H(t−12) = 0)", func(e *FirmEnv) float64 { return e.YoYRate }),
	number("vacancy_reports_6m", "reports among t−6 … t−1", func(e *FirmEnv) float64 { return e.VacancyReports6m }),
	number("vacancy_mean_6m", "mean V over the reports among t−6 … t−1 (0 without any)", func(e *FirmEnv) float64 { return e.VacancyMean6m }),
	number("history_months", "months before t with a report", func(e *FirmEnv) float64 { return e.HistoryMonths }),
	number("seasonal_years", "earlier years y with reports for both t−12y−1 and t−12y (same calendar month and the one before)", func(e *FirmEnv) float64 { return e.SeasonalYears }),
	number("seasonal_change", "the usual relative change into this calendar month: over those years, drop the lowest change (one past layoff) and take the median of the rest (0 with fewer than 2 years)", func(e *FirmEnv) float64 { return e.SeasonalChange }),
	number("seasonal_loss", "H(prev) × (1 + min(seasonal_change, 0)) − H(t) when positive: the loss beyond the usual seasonal dip (0 without prev); a usual rise that did not come is not counted", func(e *FirmEnv) float64 { return e.SeasonalLoss }),
	number("seasonal_rate", "seasonal_loss / H(prev) (0 when H(prev) = 0)", func(e *FirmEnv) float64 { return e.SeasonalRate }),
	text("industry", "GB/T 4754 section letter", func(e *FirmEnv) string { return e.Industry }),
	text("county", "county code (the registry region)", func(e *FirmEnv) string { return e.County }),
	text("prefecture", "prefecture code: the county's first four digits and 00", func(e *FirmEnv) string { return e.Prefecture }),

	// against the expectation: docs/risk-plans.md gives the formulas
	statistic(boolean("z_defined", "the firm has an expected change for the months since prev (peers, or 2 years of its own history) and a scale σ (8 months of residuals, or its peers' spread)", func(e *FirmEnv) bool { return e.zStats().zOK })),
	statistic(number("z", "robust z-score of the change since prev against the expected change: (c − ΣE − k·drift) / (σ√k), k = prev_gap; below 0 is worse than expected (0 unless z_defined)", func(e *FirmEnv) float64 { return e.zStats().z })),
	statistic(number("expected_rate", "the expected relative change since prev, e^ΣE − 1: the seasonal move the peers share or the firm's own years show (0 without an expectation)", func(e *FirmEnv) float64 { return e.changeStats().expected })),
	statistic(number("excess_rate", "the share of H(prev) lost beyond the expected change, e^ΣE − e^c; negative when the firm did better (0 without an expectation)", func(e *FirmEnv) float64 { return e.changeStats().excess })),
	statistic(number("excess_loss", "people lost beyond the expected change: excess_rate × H(prev), at least 0", func(e *FirmEnv) float64 { return max(e.changeStats().excess*e.PrevHeadcount, 0) })),
	statistic(number("sigma", "σ: the firm's ordinary monthly volatility (1.4826 × MAD of its residuals over 24 months, or its peers' spread), at least 0.5% (0 unless z_defined)", func(e *FirmEnv) float64 { return e.zStats().sigma })),
	statistic(boolean("z3_defined", "as z_defined, over the three months since t−3 (a report for t−3)", func(e *FirmEnv) bool { return e.z3Stats().z3OK })),
	statistic(number("z3", "robust z-score of the change since t−3 against the expected change of those three months (0 unless z3_defined)", func(e *FirmEnv) float64 { return e.z3Stats().z3 })),
	statistic(number("excess_rate3", "the share of H(t−3) lost beyond the expected change of three months (0 without an expectation)", func(e *FirmEnv) float64 { return e.change3Stats().excess3 })),
	statistic(number("excess_loss3", "people lost beyond the expected change of three months: excess_rate3 × H(t−3), at least 0", func(e *FirmEnv) float64 { return max(e.change3Stats().excess3*e.Headcount3m, 0) })),
	number("largest_share3", "the share of the three months' loss (t−3 → t) that its worst month holds: near 1 for one cut, near 1/3 for a loss spread over the months (0 without a loss or without reports for t−3 … t)", func(e *FirmEnv) float64 { return e.largestShare3() }),
	statistic(number("peers", "the firm's peers this month: firms of its industry in its prefecture reporting t−1 and t (its province's when fewer than 6)", func(e *FirmEnv) float64 { _, n, _ := e.peerStats(); return float64(n) })),
	statistic(number("peer_rate", "the peers' median relative change t−1 → t (0 with fewer than 6 peers)", func(e *FirmEnv) float64 { r, _, _ := e.peerStats(); return r })),
	statistic(number("peer_z", "the firm's change t−1 → t against its peers': (c − P) / S, the peers' median and spread (0 with fewer than 6 peers)", func(e *FirmEnv) float64 { _, _, z := e.peerStats(); return z })),
	number("layoff_separations", "separations the law counts as economic layoffs: economic layoff + closure or bankruptcy + suspension", func(e *FirmEnv) float64 { return e.LayoffSeparations }),
	number("layoff_separations3", "layoff_separations summed over the reports of t−2, t−1 and t: the law's line applies to cuts within 90 days as to one", func(e *FirmEnv) float64 { return e.layoffSeparations3() }),
	number("usual_separations", "the firm's usual attrition: the median of its monthly separations over its reports of the 12 months before t (0 without any)", func(e *FirmEnv) float64 { return e.usualSeparations() }),
	number("separations_excess", "sep_total − usual_separations: people who left beyond the usual attrition", func(e *FirmEnv) float64 { return e.SepTotal - e.usualSeparations() }),
	boolean("separations_habit_defined", "the firm has a habit to judge this month's separations by: a report for t and 6 in the 12 months before (unusual_separations and habitual_layoff_separations are 0 without it)", func(e *FirmEnv) bool {
		return e.lazy.ds != nil && separationsHabitDefined(e.lazy.ds, e.lazy.f, e.lazy.m)
	}),
	number("unusual_separations", "separations beyond the firm's habit for each reason: Σ over reasons of max(0, s − U − 2√U), U the larger of the reason's median over the 12 months before t and its usual peak in this season (its largest count in the calendar month or the month either side, in each earlier year: of 2 years the smaller, of 3 the median); 0 with fewer than 6 reports in the 12 months before", func(e *FirmEnv) float64 { return e.ofMonth(unusualSeparations) }),
	number("habitual_layoff_separations", "the part of layoff_separations the firm's habit for those reasons explains: Σ over economic layoff, closure and suspension of min(s, U + 2√U), U as for unusual_separations (a firm that reports its winter stop as economic layoffs every year); 0 with fewer than 6 reports in the 12 months before", func(e *FirmEnv) float64 { return e.ofMonth(habitualLayoffSeparations) }),
	number("habitual_layoff_separations3", "habitual_layoff_separations summed over t−2, t−1 and t, each month against its own past", func(e *FirmEnv) float64 { return e.ofMonths3(habitualLayoffSeparations) }),
	number("unusual_separations3", "unusual_separations summed over t−2, t−1 and t, each month against its own past", func(e *FirmEnv) float64 { return e.ofMonths3(unusualSeparations) }),
	boolean("flows_reported", "the firm reports its flows this month: hires or separations above 0", func(e *FirmEnv) bool { return e.Hires+e.SepTotal > 0 }),
	number("unexplained_loss", "loss not accounted for by the reported flows: loss − max(sep_total − hires, 0), at least 0; 0 for a firm that reported no flows this month nor in the 12 months before (it does not fill them in): a large one hints at a reporting error", func(e *FirmEnv) float64 {
		if e.Hires+e.SepTotal == 0 && e.usualSeparations() == 0 {
			return 0
		}
		return max(e.Loss-max(e.SepTotal-e.Hires, 0), 0)
	})}

var regionMetrics = metrics[RegionEnv]{
	text("region", "the region's code (county, prefecture or 620000)", func(e *RegionEnv) string { return e.Region }),
	text("industry", "the industry letter, for rules with by: industry (else empty)", func(e *RegionEnv) string { return e.Industry }),
	number("firms_expected", "firms of the region enrolled in the sample for t", func(e *RegionEnv) float64 { return e.FirmsExpected }),
	number("firms_reported", "of those, firms with a report for t", func(e *RegionEnv) float64 { return e.FirmsReported }),
	number("coverage", "firms_reported / firms_expected (0 when none expected)", func(e *RegionEnv) float64 { return e.Coverage }),
	number("headcount", "ΣH(t) over the reporting firms", func(e *RegionEnv) float64 { return e.Headcount }),
	number("baseline_headcount", "Σ baseline over the reporting firms", func(e *RegionEnv) float64 { return e.Baseline }),
	number("index", "headcount / baseline_headcount × 100", func(e *RegionEnv) float64 { return e.Index }),
	number("prev_headcount", "ΣH(prev) over the firms that have a prev", func(e *RegionEnv) float64 { return e.PrevHeadcount }),
	number("loss", "Σloss(t) over the reporting firms", func(e *RegionEnv) float64 { return e.Loss }),
	number("loss_rate", "g(t) = Σloss(t) / ΣH(prev) over the firms that have a prev (0 when undefined)", func(e *RegionEnv) float64 { return e.LossRate }),
	boolean("loss_rate_defined", "g(t) is defined: ΣH(prev) > 0", func(e *RegionEnv) bool { return e.LossRateOK }),
	number("mom_firms", "firms with reports for both t−1 and t", func(e *RegionEnv) float64 { return e.MoMFirms }),
	number("mom_headcount", "ΣH(t) over those firms", func(e *RegionEnv) float64 { return e.MoMHeadcount }),
	number("mom_prev_headcount", "ΣH(t−1) over those firms", func(e *RegionEnv) float64 { return e.MoMPrevHeadcount }),
	number("mom_change", "(ΣH(t) − ΣH(t−1)) / ΣH(t−1) over those firms (0 when ΣH(t−1) = 0)", func(e *RegionEnv) float64 { return e.MoMChange }),
	number("mom_change_rest", "mom_change without the firm that lost most from t−1 to t: a region's fall that one firm makes (a closure, a mistyped report) is that firm's (mom_change when none lost)", func(e *RegionEnv) float64 { return e.MoMChangeRest }),
	number("seasonal_years", "earlier years whose same calendar month has a mom_change (from at least one firm)", func(e *RegionEnv) float64 { return e.SeasonalYears }),
	number("seasonal_mom_change", "the usual mom_change of this calendar month: over those years, drop the lowest (one past layoff) and take the median of the rest (0 with fewer than 2 years)", func(e *RegionEnv) float64 { return e.SeasonalMoMChange }),
	number("mom_excess", "mom_change − min(seasonal_mom_change, 0): the fall beyond the usual seasonal dip (mom_change itself with fewer than 2 years)", func(e *RegionEnv) float64 { return e.MoMExcess }),
	number("loss_rate_3m", "m(t) = mean of g(t−2), g(t−1), g(t) (0 when undefined)", func(e *RegionEnv) float64 { return e.LossRate3m }),
	boolean("loss_rate_3m_defined", "m(t) is defined: g is defined for t−2, t−1 and t", func(e *RegionEnv) bool { return e.LossRate3mOK }),
	number("loss_rate_3m_min12", "min(m(t−12) … m(t−1)) (0 unless trend_defined)", func(e *RegionEnv) float64 { return e.LossRate3mMin12 }),
	boolean("trend_defined", "m is defined for t and all 12 months before", func(e *RegionEnv) bool { return e.TrendDefined }),
	number("trend_rise", "m(t) − loss_rate_3m_min12 (0 unless trend_defined)", func(e *RegionEnv) float64 { return e.TrendRise }),
	statistic(number("panel_firms", "firms reporting both t−1 and t: the panel the region's change is measured on", func(e *RegionEnv) float64 { return e.PanelFirms })),
	statistic(number("panel_share", "panel_firms / firms_expected (0 when none expected)", func(e *RegionEnv) float64 { return e.PanelShare })),
	statistic(number("expected_rate", "the region's expected relative change t−1 → t: its firms' peers one level up (a county: the prefecture's industries; a prefecture: the province's), weighted by headcount, plus the region's usual gap to them in this calendar month; the province: its own seasonal history", func(e *RegionEnv) float64 { return e.ExpectedRate })),
	statistic(boolean("z_defined", "the region has an expected change and 8 months of residuals for σ", func(e *RegionEnv) bool { return e.ZDefined })),
	statistic(number("z", "robust z-score of the panel's change against the expected change (0 unless z_defined)", func(e *RegionEnv) float64 { return e.Z })),
	statistic(number("sigma", "the region's ordinary monthly volatility: 1.4826 × MAD of its residuals over 24 months, at least 0.2% (0 unless z_defined)", func(e *RegionEnv) float64 { return e.Sigma })),
	statistic(number("excess_rate", "the share of the panel's headcount lost beyond the expected change (0 unless z_defined)", func(e *RegionEnv) float64 { return e.ExcessRate })),
	statistic(number("excess_loss", "people lost beyond the expected change: excess_rate × ΣH(t−1) over the panel (0 unless z_defined)", func(e *RegionEnv) float64 { return e.ExcessLoss })),
	statistic(number("excess_rate_rest", "excess_rate without the firm that lost most beyond its expectation (beyond no change, for a firm without peers one level up and in a province): a region's fall that one firm makes (a layoff, a reporting error) is that firm's, not the region's (0 unless z_defined)", func(e *RegionEnv) float64 { return e.ExcessRateRest })),
	statistic(boolean("z3_defined", "as z_defined, over the three months t−3 → t", func(e *RegionEnv) bool { return e.Z3Defined })),
	statistic(number("z3", "robust z-score of the three months' change against their expected change (0 unless z3_defined)", func(e *RegionEnv) float64 { return e.Z3 })),
	statistic(number("excess_rate3", "the share lost beyond the expected change over three months (0 unless z3_defined)", func(e *RegionEnv) float64 { return e.ExcessRate3 })),
	statistic(number("excess_rate3_rest", "excess_rate3 with each of the three months' panel without the firm that lost most in it beyond its expectation (as excess_rate_rest): a three months' fall that one firm's closure or layoff makes is that firm's (0 unless z3_defined)", func(e *RegionEnv) float64 { return e.ExcessRate3Rest })),
	statistic(boolean("firms_z_defined", "at least 6 of the region's firms can be scored against their peers one level up (a county's: their prefecture's industry; a prefecture's: the province's) — with 2 years of history, or off season; not for the province", func(e *RegionEnv) bool { return e.FirmsZDefined })),
	statistic(number("firms_z", "how broadly the region's firms fall below those peers: Σ min(3, max(−3, −r_f/S_f)) / √n over the scored firms, r_f a firm's change against the peers' median and its usual gap to it, S_f their spread; a loss across many firms scores high, one firm's layoff at most 3/√n (0 unless firms_z_defined)", func(e *RegionEnv) float64 { return e.FirmsZ })),
	statistic(number("breadth", "the share of the scored firms below those peers (0 unless firms_z_defined)", func(e *RegionEnv) float64 { return e.Breadth })),
	statistic(boolean("firms_z3_defined", "firms_z is defined for t−2, t−1 and t", func(e *RegionEnv) bool { return e.FirmsZ3Defined })),
	statistic(number("firms_z3", "firms_z over the three months t−2 … t (0 unless firms_z3_defined)", func(e *RegionEnv) float64 { return e.FirmsZ3 })),
	firmList("firms", "the region's enrolled firms for t, each with every firm metric: count(firms, .loss > 50)", func(e *RegionEnv) []*FirmEnv { return e.Firms }),
}

// kind is a metric's type in conditions.
type kind uint8

const (
	kindNumber kind = iota + 1
	kindBool
	kindString
	kindFirms // the region's firms, for count, any, all and none
)

// String is the type as docs/risk-plans.md names it.
func (k kind) String() string {
	switch k {
	case kindNumber:
		return "number"
	case kindBool:
		return "bool"
	case kindString:
		return "string"
	case kindFirms:
		return "list of firm metrics"
	}
	return "?"
}

// metric is one row of a metrics table: the name plans use, the type, the
// meaning, and the accessor of its kind that reads it from an E.
type metric[E any] struct {
	name, doc string
	kind      kind
	num       func(*E) float64
	flag      func(*E) bool
	str       func(*E) string
	firms     func(*E) []*FirmEnv
	// stats: read from the expectations (stats.go), which an evaluation
	// computes only for a plan that reads one
	stats bool
}

// statistic marks m as read from the expectations.
func statistic[E any](m metric[E]) metric[E] {
	m.stats = true
	return m
}

func number[E any](name, doc string, get func(*E) float64) metric[E] {
	return metric[E]{name: name, doc: doc, kind: kindNumber, num: get}
}

func boolean[E any](name, doc string, get func(*E) bool) metric[E] {
	return metric[E]{name: name, doc: doc, kind: kindBool, flag: get}
}

func text[E any](name, doc string, get func(*E) string) metric[E] {
	return metric[E]{name: name, doc: doc, kind: kindString, str: get}
}

func firmList[E any](name, doc string, get func(*E) []*FirmEnv) metric[E] {
	return metric[E]{name: name, doc: doc, kind: kindFirms, firms: get}
}

// value reads the metric as expr and a firing's values see it.
func (m metric[E]) value(e *E) any {
	switch m.kind {
	case kindNumber:
		return m.num(e)
	case kindBool:
		return m.flag(e)
	case kindString:
		return m.str(e)
	}
	list := m.firms(e)
	out := make([]any, len(list))
	for i, f := range list {
		out[i] = firmMetrics.env(f, nil)
	}
	return out
}

// metrics is the table of one scope's metrics, in documentation order.
type metrics[E any] []metric[E]

// worseLoss reports whether a firm losing loss people from prev is the one
// that lost most so far (worstLoss from worstPrev): ties go to the larger
// firm, so the choice does not depend on the order firms are added in.
func worseLoss(loss, prev, worstLoss, worstPrev float64) bool {
	return loss > 0 && (loss > worstLoss || loss == worstLoss && prev > worstPrev)
}

// isStat reports whether name is a metric read from the expectations.
func (t metrics[E]) isStat(name string) bool {
	m, ok := t.lookup(name)
	return ok && m.stats
}

func (t metrics[E]) lookup(name string) (metric[E], bool) {
	for _, m := range t {
		if m.name == name {
			return m, true
		}
	}
	return metric[E]{}, false
}

func (t metrics[E]) names() []string {
	out := make([]string, len(t))
	for i, m := range t {
		out[i] = m.name
	}
	return out
}

// types are the names and types expr checks conditions against (strict: an
// unknown name or field is an error).
func (t metrics[E]) types() types.Map {
	out := make(types.Map, len(t))
	for _, m := range t {
		switch m.kind {
		case kindNumber:
			out[m.name] = types.Float64
		case kindBool:
			out[m.name] = types.Bool
		case kindString:
			out[m.name] = types.String
		case kindFirms:
			out[m.name] = types.Array(firmMetrics.types())
		}
	}
	return out
}

// env fills into (nil: a new map) with every metric of e, the environment
// the expr VM runs conditions in.
func (t metrics[E]) env(e *E, into map[string]any) map[string]any {
	if into == nil {
		into = make(map[string]any, len(t)+1)
	}
	for _, m := range t {
		into[m.name] = m.value(e)
	}
	return into
}
