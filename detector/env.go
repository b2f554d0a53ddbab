package detector

// FirmEnv is what a firm-scope condition sees for firm f and month t. Every
// field is a metric a plan may use, by the name in its expr tag; MetricDocs
// documents them (docs/risk-plans.md is generated from it).
//
// Counts are float64 so that conditions mix them freely with rates.
type FirmEnv struct {
	Reported  bool    `expr:"reported"`
	Due       bool    `expr:"due"`
	Headcount float64 `expr:"headcount"`
	Vacancies float64 `expr:"vacancies"`
	Hires     float64 `expr:"hires"`

	SepTotal             float64 `expr:"sep_total"`
	SepEconomicLayoff    float64 `expr:"sep_economic_layoff"`
	SepClosureBankruptcy float64 `expr:"sep_closure_bankruptcy"`
	SepSuspension        float64 `expr:"sep_suspension"`
	SepContractExpiry    float64 `expr:"sep_contract_expiry"`
	SepResignation       float64 `expr:"sep_resignation"`
	SepRetirement        float64 `expr:"sep_retirement"`
	SepTransfer          float64 `expr:"sep_transfer"`
	SepOther             float64 `expr:"sep_other"`

	Baseline float64 `expr:"baseline_headcount"`
	Index    float64 `expr:"index"`

	HasPrev       bool    `expr:"has_prev"`
	PrevGap       float64 `expr:"prev_gap"`
	PrevHeadcount float64 `expr:"prev_headcount"`
	PrevVacancies float64 `expr:"prev_vacancies"`
	Loss          float64 `expr:"loss"`
	Rate          float64 `expr:"rate"`
	Change        float64 `expr:"change"`

	Has1m        bool    `expr:"has_1m"`
	Headcount1m  float64 `expr:"headcount_1m"`
	Has3m        bool    `expr:"has_3m"`
	Headcount3m  float64 `expr:"headcount_3m"`
	Net3         float64 `expr:"net3"`
	Net3Rate     float64 `expr:"net3_rate"`
	Has12m       bool    `expr:"has_12m"`
	Headcount12m float64 `expr:"headcount_12m"`
	YoYRate      float64 `expr:"yoy_rate"`

	VacancyReports6m float64 `expr:"vacancy_reports_6m"`
	VacancyMean6m    float64 `expr:"vacancy_mean_6m"`

	HistoryMonths float64 `expr:"history_months"`

	SeasonalYears  float64 `expr:"seasonal_years"`
	SeasonalChange float64 `expr:"seasonal_change"`
	SeasonalLoss   float64 `expr:"seasonal_loss"`
	SeasonalRate   float64 `expr:"seasonal_rate"`

	Industry   string `expr:"industry"`
	County     string `expr:"county"`
	Prefecture string `expr:"prefecture"`
}

// RegionEnv is what a region-scope condition sees for one region (county,
// prefecture or province, optionally one industry in it) and month t.
type RegionEnv struct {
	Region   string `expr:"region"`
	Industry string `expr:"industry"`

	FirmsExpected float64 `expr:"firms_expected"`
	FirmsReported float64 `expr:"firms_reported"`
	Coverage      float64 `expr:"coverage"`

	Headcount     float64 `expr:"headcount"`
	Baseline      float64 `expr:"baseline_headcount"`
	Index         float64 `expr:"index"`
	PrevHeadcount float64 `expr:"prev_headcount"`
	Loss          float64 `expr:"loss"`
	LossRate      float64 `expr:"loss_rate"`
	LossRateOK    bool    `expr:"loss_rate_defined"`

	MoMFirms         float64 `expr:"mom_firms"`
	MoMHeadcount     float64 `expr:"mom_headcount"`
	MoMPrevHeadcount float64 `expr:"mom_prev_headcount"`
	MoMChange        float64 `expr:"mom_change"`

	SeasonalYears     float64 `expr:"seasonal_years"`
	SeasonalMoMChange float64 `expr:"seasonal_mom_change"`
	MoMExcess         float64 `expr:"mom_excess"`

	LossRate3m      float64 `expr:"loss_rate_3m"`
	LossRate3mOK    bool    `expr:"loss_rate_3m_defined"`
	LossRate3mMin12 float64 `expr:"loss_rate_3m_min12"`
	TrendDefined    bool    `expr:"trend_defined"`
	TrendRise       float64 `expr:"trend_rise"`

	Firms []*FirmEnv `expr:"firms"`
}

// MetricDoc documents one metric.
type MetricDoc struct {
	Name, Type, Doc string
}

// FirmMetricDocs and RegionMetricDocs document the metrics, in the order
// docs/risk-plans.md lists them. A test holds them equal to the env fields.
var FirmMetricDocs = []MetricDoc{
	{"reported", "bool", "the firm has a report for t"},
	{"due", "bool", "t is due: its reporting deadline has passed (in a backtest: t ≤ the latest month in the data)"},
	{"headcount", "number", "H(t): employees at the end of t (latest revision)"},
	{"vacancies", "number", "V(t): open positions at the end of t"},
	{"hires", "number", "people hired during t"},
	{"sep_total", "number", "people who left during t, all reasons"},
	{"sep_economic_layoff", "number", "separations by economic layoff"},
	{"sep_closure_bankruptcy", "number", "separations by closure or bankruptcy"},
	{"sep_suspension", "number", "separations by suspension"},
	{"sep_contract_expiry", "number", "separations at contract expiry"},
	{"sep_resignation", "number", "resignations"},
	{"sep_retirement", "number", "retirements"},
	{"sep_transfer", "number", "transfers"},
	{"sep_other", "number", "other separations"},
	{"baseline_headcount", "number", "headcount at enrolment (建档期)"},
	{"index", "number", "H(t) / baseline × 100 (0 when the baseline is 0)"},
	{"has_prev", "bool", "prev exists: a report for one of t−1, t−2, t−3 (the latest of them is prev)"},
	{"prev_gap", "number", "t − prev in months (0 without prev)"},
	{"prev_headcount", "number", "H(prev) (0 without prev)"},
	{"prev_vacancies", "number", "V(prev) (0 without prev)"},
	{"loss", "number", "H(prev) − H(t) when positive, else 0 (0 without prev)"},
	{"rate", "number", "loss / H(prev) (0 when H(prev) = 0)"},
	{"change", "number", "H(t) − H(prev), signed (0 without prev)"},
	{"has_1m", "bool", "a report exists for t−1"},
	{"headcount_1m", "number", "H(t−1) (0 without it)"},
	{"has_3m", "bool", "a report exists for t−3"},
	{"headcount_3m", "number", "H(t−3) (0 without it)"},
	{"net3", "number", "H(t−3) − H(t), signed (0 unless has_3m and reported)"},
	{"net3_rate", "number", "net3 / H(t−3) (0 when H(t−3) = 0)"},
	{"has_12m", "bool", "a report exists for t−12"},
	{"headcount_12m", "number", "H(t−12) (0 without it)"},
	{"yoy_rate", "number", "(H(t) − H(t−12)) / H(t−12) (0 when H(t−12) = 0)"},
	{"vacancy_reports_6m", "number", "reports among t−6 … t−1"},
	{"vacancy_mean_6m", "number", "mean V over the reports among t−6 … t−1 (0 without any)"},
	{"history_months", "number", "months before t with a report"},
	{"seasonal_years", "number", "earlier years y with reports for both t−12y−1 and t−12y (same calendar month and the one before)"},
	{"seasonal_change", "number", "the usual relative change into this calendar month: over those years, drop the lowest change (one past layoff) and take the median of the rest (0 with fewer than 2 years)"},
	{"seasonal_loss", "number", "H(prev) × (1 + min(seasonal_change, 0)) − H(t) when positive: the loss beyond the usual seasonal dip (0 without prev); a usual rise that did not come is not counted"},
	{"seasonal_rate", "number", "seasonal_loss / H(prev) (0 when H(prev) = 0)"},
	{"industry", "string", "GB/T 4754 section letter"},
	{"county", "string", "county code (the registry region)"},
	{"prefecture", "string", "prefecture code: the county's first four digits and 00"},
}

var RegionMetricDocs = []MetricDoc{
	{"region", "string", "the region's code (county, prefecture or 620000)"},
	{"industry", "string", "the industry letter, for rules with by: industry (else empty)"},
	{"firms_expected", "number", "firms of the region enrolled in the sample for t"},
	{"firms_reported", "number", "of those, firms with a report for t"},
	{"coverage", "number", "firms_reported / firms_expected (0 when none expected)"},
	{"headcount", "number", "ΣH(t) over the reporting firms"},
	{"baseline_headcount", "number", "Σ baseline over the reporting firms"},
	{"index", "number", "headcount / baseline_headcount × 100"},
	{"prev_headcount", "number", "ΣH(prev) over the firms that have a prev"},
	{"loss", "number", "Σloss(t) over the reporting firms"},
	{"loss_rate", "number", "g(t) = Σloss(t) / ΣH(prev) over the firms that have a prev (0 when undefined)"},
	{"loss_rate_defined", "bool", "g(t) is defined: ΣH(prev) > 0"},
	{"mom_firms", "number", "firms with reports for both t−1 and t"},
	{"mom_headcount", "number", "ΣH(t) over those firms"},
	{"mom_prev_headcount", "number", "ΣH(t−1) over those firms"},
	{"mom_change", "number", "(ΣH(t) − ΣH(t−1)) / ΣH(t−1) over those firms (0 when ΣH(t−1) = 0)"},
	{"seasonal_years", "number", "earlier years whose same calendar month has a mom_change (from at least one firm)"},
	{"seasonal_mom_change", "number", "the usual mom_change of this calendar month: over those years, drop the lowest (one past layoff) and take the median of the rest (0 with fewer than 2 years)"},
	{"mom_excess", "number", "mom_change − min(seasonal_mom_change, 0): the fall beyond the usual seasonal dip (mom_change itself with fewer than 2 years)"},
	{"loss_rate_3m", "number", "m(t) = mean of g(t−2), g(t−1), g(t) (0 when undefined)"},
	{"loss_rate_3m_defined", "bool", "m(t) is defined: g is defined for t−2, t−1 and t"},
	{"loss_rate_3m_min12", "number", "min(m(t−12) … m(t−1)) (0 unless trend_defined)"},
	{"trend_defined", "bool", "m is defined for t and all 12 months before"},
	{"trend_rise", "number", "m(t) − loss_rate_3m_min12 (0 unless trend_defined)"},
	{"firms", "list of firm metrics", "the region's enrolled firms for t, each with every firm metric: count(firms, .loss > 50)"},
}
