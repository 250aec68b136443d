"""Kinds of personal data a listing offers, from a multilingual lexicon (English,
Russian, Chinese) mapped to canonical type names. Pure; one regex compiled once.

Canonical types, in the order they are reported: names, emails, phones, addresses,
national_ids, tax_ids, passports, driver_licenses, dob, gender, usernames,
passwords, hashes, payment_cards, bank, income, medical, insurance,
criminal_records, vehicles, location, ip, photos, biometrics, cookies,
crypto_wallets, social_media, employment, education. English terms match whole
words (so "iPhone" is no phone and "username" no name); Russian ones match word
stems; Chinese ones match anywhere.
"""

from __future__ import annotations

import re

from monitor.extract.branches import labelled, split_alternatives
from monitor.extract.numbers import normalize

TYPES: tuple[str, ...] = (
    "names", "emails", "phones", "addresses", "national_ids", "tax_ids", "passports",
    "driver_licenses", "dob", "gender", "usernames", "passwords", "hashes",
    "payment_cards", "bank", "income", "medical", "insurance", "criminal_records",
    "vehicles", "location", "ip", "photos", "biometrics", "cookies", "crypto_wallets",
    "social_media", "employment", "education",
)  # fmt: skip

# (canonical types, English whole-word pattern | Russian stem pattern | Chinese terms)
_LEXICON: tuple[tuple[str, str], ...] = (
    (
        "names",
        r"full names?|first names?|last names?|real names?|surnames?|names?|fio|фио|имена|имя"
        r"|фамили\w*|姓名|名字|实名",
    ),
    (
        "emails",
        r"e-?mail address(?:es)?|e-?mail[- ]?pass|e-?mails?|mails|почт[аыу]|мыл[оа]|имейл\w*"
        r"|электронн\w* почт\w*|邮箱|电子邮件|邮件地址",
    ),
    (
        "phones",
        r"phones?(?: numbers?)?|mobile(?: numbers?)?|cell(?: ?phones?)?|msisdn|tel"
        r"|телефон\w*|номер\w* телефон\w*|мобильн\w*|手机号?码?|电话(?:号码)?|联系方式",
    ),
    (
        "addresses",
        r"home address(?:es)?|postal address(?:es)?|physical address(?:es)?"
        r"|street address(?:es)?|address(?:es)?|адрес\w*|地址|住址",
    ),
    (
        "national_ids",
        r"ssns?|social security(?: numbers?)?|national ids?|id numbers?|id cards?"
        r"|nin|aadhaar|nik|cpf|curp|dni|снилс|паспортн\w* данн\w*|身份证(?:号码?)?|证件号",
    ),
    ("tax_ids", r"tax ids?|tins?|инн|税号"),
    ("passports", r"passports?|паспорт\w*|护照"),
    ("driver_licenses", r"driver'?s? licen[cs]es?|driving licen[cs]es?|водительск\w*|驾驶证|驾照"),
    (
        "dob",
        r"dob|d\.o\.b\.?|dates? of birth|birth ?dates?|birthdays?|дат\w* рождени\w*"
        r"|出生日期|生日",
    ),
    ("gender", r"gender|性别"),
    (
        "usernames",
        r"usernames?|user ?names?|logins?|nicknames?|логин\w*|никнейм\w*|ник|用户名|账号",
    ),
    ("passwords", r"passwords?|passwds?|pass(?:es)?|plain ?text|plaintext|парол\w*|密码"),
    (
        "hashes",
        r"hash(?:es|ed)?|md5|sha-?(?:1|256|512)|bcrypt|argon2|ntlm|salts?|хеш\w*|хэш\w*"
        r"|哈希",
    ),
    (
        "payment_cards",
        r"credit cards?|debit cards?|cards? numbers?|ccs?|cvv2?|cvc|fullz"
        r"|кредитн\w* карт\w*|банковск\w* карт\w*|карт\w*|银行卡|信用卡|卡号",
    ),
    (
        "bank",
        r"bank(?:ing)?(?: accounts?| details| statements?)?|iban|swift|routing numbers?"
        r"|банк\w*|счет\w*|счёт\w*|银行|账户余额|开户行",
    ),
    ("income", r"salar(?:y|ies)|income|wages|зарплат\w*|доход\w*|工资|收入"),
    (
        "medical",
        r"medical|health|patients?|diagnos[ie]s|prescriptions?|hospital|медицин\w*|медкарт\w*"
        r"|диагноз\w*|пациент\w*|医疗|病历|医院|病人",
    ),
    ("insurance", r"insurance|policy numbers?|страхов\w*|полис\w*|保险|医保|社保"),
    (
        "criminal_records",
        r"criminal(?: records?| history| cases?)?|convictions?|arrests?"
        r"|case files?|судимост\w*|уголовн\w*|犯罪记录|案底|案件|前科",
    ),
    ("vehicles", r"vehicles?|license plates?|vin|cars?|автомобил\w*|госномер\w*|车牌|车辆"),
    (
        "location",
        r"geo ?locations?|gps|coordinates|locations?|геолокаци\w*|координат\w*"
        r"|定位|位置|行踪|轨迹",
    ),
    ("ip", r"ip address(?:es)?|ip-адрес\w*|ip地址|ips?|айпи"),
    ("photos", r"photos?|selfies?|фото\w*|照片|头像"),
    ("biometrics", r"biometrics?|fingerprints?|face ?ids?|биометри\w*|отпечат\w*|指纹|人脸"),
    ("cookies", r"cookies?|sessions?|tokens?|logs|куки|сесси\w*|токен\w*"),
    ("crypto_wallets", r"wallets?|seed phrases?|seeds|private keys?|кошел[её]к\w*|钱包|私钥"),
    ("social_media", r"facebook|instagram|twitter|vk|telegram|social media|соцсет\w*|微信|qq"),
    (
        "employment",
        r"employers?|job titles?|occupations?|employees?|мест\w* работ\w*"
        r"|должност\w*|工作单位|职业",
    ),
    (
        "education",
        r"education|schools?|universit(?:y|ies)|students?|образовани\w*|студент\w*"
        r"|学历|学校|学生",
    ),
)
# "fullz" also means identity documents: names, addresses, dob, national ids
_IMPLIED = {"payment_cards:fullz": ("names", "addresses", "dob", "national_ids")}
_ORDER = {name: i for i, name in enumerate(TYPES)}
_CJK_CHAR = re.compile(r"[\u3400-\u9fff]")


def _pattern(cjk: bool) -> tuple[re.Pattern[str], tuple[str | None, ...]]:
    """Words (whole, the boundary checked once per position) or Chinese terms, and
    the type of each of the pattern's groups. A lexicon entry's top-level alternatives
    are either all Chinese or contain none."""
    terms = [
        (name, term)
        for name, entry in _LEXICON
        for term in split_alternatives(entry)
        if bool(_CJK_CHAR.search(term)) == cjk
    ]
    body, kinds = labelled(terms)
    return re.compile(body if cjk else f"(?<![\\w@.-])(?:{body})(?![\\w@-])"), kinds


_WORDS, _WORD_KINDS = _pattern(cjk=False)
_CJK_TERMS, _CJK_KINDS = _pattern(cjk=True)


def parse_data_types(text: str) -> tuple[str, ...]:
    """The canonical data types `text` mentions, in canonical order, without repeats."""
    return data_types_in(normalize(text[:4000]))


def data_types_in(text: str) -> tuple[str, ...]:
    """`parse_data_types` of a text already normalised by `normalize`."""
    low = text.lower()
    found: set[str] = set()
    scans = [(_WORDS, _WORD_KINDS)]
    if _CJK_CHAR.search(low):
        scans.append((_CJK_TERMS, _CJK_KINDS))
    for pattern, kinds in scans:
        for match in pattern.finditer(low):
            kind = kinds[match.lastindex or 0]
            if kind is None:
                continue
            found.add(kind)
            found.update(_IMPLIED.get(f"{kind}:{match[0]}", ()))
    return tuple(sorted(found, key=_ORDER.__getitem__))
