package console

import (
	"fmt"
	"html/template"
	"strconv"
	"strings"
	"time"

	"github.com/layoffwatch/layoffwatch/internal/alertevent"
	"github.com/layoffwatch/layoffwatch/internal/region"
	"github.com/layoffwatch/layoffwatch/internal/report"
)

// industries are the GB/T 4754-2017 sections.
var industries = map[string][2]string{
	"A": {"农林牧渔业", "Agriculture"}, "B": {"采矿业", "Mining"}, "C": {"制造业", "Manufacturing"},
	"D": {"电力热力燃气及水生产和供应业", "Utilities"}, "E": {"建筑业", "Construction"}, "F": {"批发和零售业", "Wholesale and retail"},
	"G": {"交通运输仓储和邮政业", "Transport and storage"}, "H": {"住宿和餐饮业", "Hotels and catering"},
	"I": {"信息传输软件和信息技术服务业", "Information technology"}, "J": {"金融业", "Finance"}, "K": {"房地产业", "Real estate"},
	"L": {"租赁和商务服务业", "Leasing and business services"}, "M": {"科学研究和技术服务业", "Research and technical services"},
	"N": {"水利环境和公共设施管理业", "Water, environment and public facilities"}, "O": {"居民服务修理和其他服务业", "Household and other services"},
	"P": {"教育", "Education"}, "Q": {"卫生和社会工作", "Health and social work"}, "R": {"文化体育和娱乐业", "Culture, sports and entertainment"},
	"S": {"公共管理社会保障和社会组织", "Public administration"}, "T": {"国际组织", "International organisations"},
}

func (c *Console) funcMap() template.FuncMap {
	return template.FuncMap{
		"tf": func(format string, args ...any) string { return fmt.Sprintf(format, args...) },
		"tr": func(t map[string]string, prefix, key string) string {
			if s, ok := t[prefix+key]; ok {
				return s
			}
			return key
		},
		"pick": pick,
		"regionName": func(code, lang string) string {
			r, ok := c.regions.Lookup(code)
			if !ok {
				return code
			}
			name := pick(lang, r.Name, r.NameEn)
			if r.Level == region.County {
				if p, ok := c.regions.Lookup(region.PrefectureOf(code)); ok {
					if lang == langEN {
						return name + ", " + p.NameEn
					}
					return p.Name + name
				}
			}
			return name
		},
		"industryName": func(code, lang string) string {
			if n, ok := industries[code]; ok {
				return code + " " + pick(lang, n[0], n[1])
			}
			return code
		},
		// levelLabel names a level as its facts do (the plan that raised
		// the alert): "II级 橙色", "Level II orange"; the numeral alone
		// without facts
		"levelLabel": func(level string, f alertevent.LevelFacts, lang string) string {
			if lang == langEN {
				return strings.TrimSpace("Level " + level + " " + f.NameEn)
			}
			return strings.TrimSpace(level + "级 " + f.NameZh)
		},
		"levelClass": levelClass,
		"fmtTime": func(t time.Time) string {
			if t.IsZero() {
				return "—"
			}
			return t.In(report.Shanghai()).Format("2006-01-02 15:04")
		},
		"isoTime": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"dur":     duration,
		"neg":     func(d time.Duration) time.Duration { return -d },
		"json":    func(s string) string { return s },
		"itoa":    strconv.Itoa,
		"add":     func(a, b int) int { return a + b },
	}
}

// duration writes a span for people: 1小时20分 / 1 h 20 min; days past 48 h.
func duration(d time.Duration, lang string) string {
	if d < 0 {
		d = -d
	}
	d = d.Round(time.Minute)
	days, hours, mins := int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour), int(d%time.Hour/time.Minute)
	if d >= 48*time.Hour {
		if lang == langEN {
			return fmt.Sprintf("%d d %d h", days, hours)
		}
		return fmt.Sprintf("%d天%d小时", days, hours)
	}
	hours += days * 24
	switch {
	case lang == langEN && hours > 0:
		return fmt.Sprintf("%d h %d min", hours, mins)
	case lang == langEN:
		return fmt.Sprintf("%d min", mins)
	case hours > 0:
		return fmt.Sprintf("%d小时%d分", hours, mins)
	}
	return fmt.Sprintf("%d分钟", mins)
}
