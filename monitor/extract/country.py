"""Country hints in listing titles: names and demonyms (English, Russian stems,
Chinese), a few cities that name their country, flag emoji and ISO codes. Pure.

ISO codes count only as whole upper-case tokens from a curated list (codes that are
also words or abbreviations, such as IN, IT, ID, MY, NO, IS, AT, BE, ME, MD, CC,
PM, are left out), and in an all-capitals title only inside brackets ("[US]").
The earliest hint in the text wins; its ISO 3166 alpha-2 code is returned.
"""

from __future__ import annotations

import re

from monitor.extract.numbers import normalize

# code: English names/demonyms/cities | Russian stems | Chinese names
_NAMES: dict[str, str] = {
    "CN": r"china|chinese|prc|shanghai|beijing|shenzhen|guangzhou|китай\w*|китайск\w*"
    r"|中国|上海|北京|深圳|广州|大陆",
    "US": r"united states|america|american|usa|сша|америк\w*|美国",
    "GB": r"united kingdom|britain|british|england|english citizens|великобритан\w*|англи\w*"
    r"|英国",
    "RU": r"russia|russian|рф|россия|росси\w*|российск\w*|рус|ру|москв\w*|俄罗斯",
    "UA": r"ukraine|ukrainian|украин\w*|乌克兰",
    "BY": r"belarus|belarusian|беларус\w*|белорус\w*|рб|白俄罗斯",
    "KZ": r"kazakhstan|казахстан\w*|哈萨克斯坦",
    "UZ": r"uzbekistan|узбекистан\w*|乌兹别克斯坦",
    "FR": r"france|french|франци\w*|французск\w*|法国",
    "DE": r"germany|german|германи\w*|немецк\w*|德国",
    "ES": r"spain|spanish|испани\w*|西班牙",
    "IT": r"italy|italian|итали\w*|意大利",
    "PT": r"portugal|portuguese|португали\w*|葡萄牙",
    "NL": r"netherlands|dutch|holland|нидерланд\w*|голланд\w*|荷兰",
    "PL": r"poland|polish|польш\w*|波兰",
    "TR": r"turkey|turkish|türkiye|турци\w*|土耳其",
    "IL": r"israel|israeli|израил\w*|以色列",
    "IR": r"iran|iranian|иран\w*|伊朗",
    "SA": r"saudi arabia|saudi|ksa|саудовск\w*|沙特",
    "AE": r"emirates|uae|dubai|оаэ|эмират\w*|阿联酋|迪拜",
    "QA": r"qatar|qatari|катар\w*|卡塔尔",
    "EG": r"egypt|egyptian|египет|египт\w*|埃及",
    "NG": r"nigeria|nigerian|нигери\w*|尼日利亚",
    "ZA": r"south africa|south african|юар|南非",
    "IN": r"india|indian|индия|индии|индийск\w*|印度",
    "ID": r"indonesia|indonesian|индонези\w*|印度尼西亚|印尼",
    "PK": r"pakistan|пакистан\w*|巴基斯坦",
    "BD": r"bangladesh|бангладеш|孟加拉",
    "VN": r"vietnam|viet nam|vietnamese|вьетнам\w*|越南",
    "TH": r"thailand|thai|таиланд\w*|泰国",
    "MY": r"malaysia|malaysian|малайзи\w*|马来西亚",
    "PH": r"philippines|filipino|philippine|филиппин\w*|菲律宾",
    "SG": r"singapore|сингапур\w*|新加坡",
    "JP": r"japan|japanese|япони\w*|японск\w*|日本",
    "KR": r"south korea|korea|korean|корея|кореи|корейск\w*|韩国",
    "TW": r"taiwan|taiwanese|тайван\w*|台湾",
    "HK": r"hong kong|гонконг\w*|香港",
    "AU": r"australia|australian|австрали\w*|澳大利亚|澳洲",
    "NZ": r"new zealand|новая зеланди\w*|新西兰",
    "CA": r"canada|canadian|канад\w*|加拿大",
    "MX": r"mexico|mexican|мексик\w*|墨西哥",
    "BR": r"brazil|brazilian|brasil|бразили\w*|巴西",
    "AR": r"argentina|argentinian|аргентин\w*|阿根廷",
    "CO": r"colombia|colombian|колумби\w*|哥伦比亚",
    "CL": r"chile|chilean|чили|智利",
    "PE": r"peru|peruvian|перу|秘鲁",
}
_CODES = frozenset(
    [
        "US",
        "USA",
        "UK",
        "GB",
        "RU",
        "RF",
        "CN",
        "FR",
        "DE",
        "ES",
        "PT",
        "NL",
        "PL",
        "TR",
        "UA",
        "KZ",
        "BY",
        "UZ",
        "IL",
        "IR",
        "SA",
        "AE",
        "UAE",
        "QA",
        "KW",
        "EG",
        "NG",
        "ZA",
        "PK",
        "BD",
        "VN",
        "TH",
        "PH",
        "SG",
        "JP",
        "KR",
        "TW",
        "HK",
        "AU",
        "NZ",
        "CA",
        "MX",
        "BR",
        "AR",
        "CL",
        "PE",
        "RO",
        "HU",
        "CZ",
        "GR",
        "SE",
        "FI",
        "DK",
        "CH",
    ]
)
_ALIASES = {"USA": "US", "UK": "GB", "RF": "RU", "UAE": "AE"}
_CJK = re.compile(r"[\u3400-\u9fff]")
# Names are looked up by word: exact words, two-word phrases and Russian stems
# ("росси\w*": any word starting with "росси").
_WORDS: dict[str, str] = {}
_PHRASES: dict[str, str] = {}
_STEMS: dict[str, str] = {}
for _code, _terms in _NAMES.items():
    for _term in _terms.split("|"):
        if _CJK.search(_term):
            continue
        if _term.endswith("\\w*"):
            _STEMS[_term[:-3]] = _code
        elif " " in _term:
            _PHRASES[_term] = _code
        else:
            _WORDS[_term] = _code
_PHRASE_HEADS = frozenset(phrase.partition(" ")[0] for phrase in _PHRASES)
_STEM_LENGTHS = sorted({len(stem) for stem in _STEMS}, reverse=True)
_STEM_HEADS = frozenset(stem[:3] for stem in _STEMS)
_WORD = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)*")
_CJK_CODES = {t: code for code, terms in _NAMES.items() for t in terms.split("|") if _CJK.search(t)}
_CJK_NAME = re.compile("|".join(sorted(_CJK_CODES, key=len, reverse=True)))
_CAPITALS = re.compile("[A-Z][A-Z]")  # plain classes: scanned for without a match per position
_TOKEN = re.compile(r"(?<![\w.])([\[(]?)([A-Z]{2,3})([\])]?)(?![\w.])")
_FLAG = re.compile("([\U0001f1e6-\U0001f1ff])([\U0001f1e6-\U0001f1ff])")


def parse_country(text: str) -> str | None:
    """ISO 3166 alpha-2 code of the earliest country hint in `text`, else None."""
    return country_in(normalize(text[:2000]))


def country_in(text: str) -> str | None:
    """`parse_country` of a text already normalised by `normalize`."""
    low = text.lower()
    hits: list[tuple[int, str]] = []
    if (named := _by_name(low)) is not None:
        hits.append(named)
    if _CJK.search(text) and (match := _CJK_NAME.search(text)):
        hits.append((match.start(), _CJK_CODES[match[0]]))
    if match := _FLAG.search(text):
        code = "".join(chr(ord(c) - 0x1F1E6 + ord("A")) for c in match.groups())
        hits.append((match.start(), "GB" if code == "UK" else code))
    shouting: bool | None = None  # an all-capitals title; counted once a code is seen
    caps = _CAPITALS.search(text)  # a code's first two letters; its bracket may precede
    for match in _TOKEN.finditer(text, max(0, caps.start() - 1)) if caps else ():
        opener, code, closer = match.groups()
        if code not in _CODES:
            continue
        if shouting is None:
            letters = max(1, sum(map(str.isalpha, text)))
            shouting = sum(map(str.isupper, text)) > 0.6 * letters
        if not shouting or (opener and closer):
            hits.append((match.start(), _ALIASES.get(code, code)))
            break
    return min(hits)[1] if hits else None


def _by_name(low: str) -> tuple[int, str] | None:
    """(position, code) of the first country name or demonym among the words of `low`."""
    previous: tuple[int, str] | None = None
    for match in _WORD.finditer(low):
        word = match[0]
        if (
            previous is not None
            and previous[1] in _PHRASE_HEADS
            and (code := _PHRASES.get(f"{previous[1]} {word}"))
        ):
            return previous[0], code
        code = _WORDS.get(word)
        if code is None and word[:3] in _STEM_HEADS:
            code = next((_STEMS[word[:n]] for n in _STEM_LENGTHS if word[:n] in _STEMS), None)
        if code is not None:
            return match.start(), code
        previous = (match.start(), word)
    return None
