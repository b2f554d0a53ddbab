package email

// industries are the GB/T 4754-2017 sections: letter → Chinese, English.
func industries() map[string][2]string {
	return map[string][2]string{
		"A": {"农、林、牧、渔业", "agriculture, forestry, animal husbandry and fishery"},
		"B": {"采矿业", "mining"},
		"C": {"制造业", "manufacturing"},
		"D": {"电力、热力、燃气及水生产和供应业", "electricity, heat, gas and water supply"},
		"E": {"建筑业", "construction"},
		"F": {"批发和零售业", "wholesale and retail"},
		"G": {"交通运输、仓储和邮政业", "transport, storage and post"},
		"H": {"住宿和餐饮业", "accommodation and catering"},
		"I": {"信息传输、软件和信息技术服务业", "information technology"},
		"J": {"金融业", "finance"},
		"K": {"房地产业", "real estate"},
		"L": {"租赁和商务服务业", "leasing and business services"},
		"M": {"科学研究和技术服务业", "research and technical services"},
		"N": {"水利、环境和公共设施管理业", "water, environment and public facilities"},
		"O": {"居民服务、修理和其他服务业", "household services and repairs"},
		"P": {"教育", "education"},
		"Q": {"卫生和社会工作", "health and social work"},
		"R": {"文化、体育和娱乐业", "culture, sports and entertainment"},
		"S": {"公共管理、社会保障和社会组织", "public administration and social organisations"},
		"T": {"国际组织", "international organisations"},
	}
}

// industryName gives "C 制造业" / "C manufacturing"; an unknown code as it is.
func industryName(code, lang string) string {
	code = oneLine(code)
	n, ok := industries()[code]
	if !ok {
		return code
	}
	return code + " " + pick(lang, n[0], n[1])
}

// industryShort gives the name alone, "制造业"; an unknown code as it is.
func industryShort(code, lang string) string {
	code = oneLine(code)
	n, ok := industries()[code]
	if !ok {
		return code
	}
	return pick(lang, n[0], n[1])
}
