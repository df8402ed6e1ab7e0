//! The lexicons and shape rules semantic typing relies on: column-name words in Chinese and
//! English, which names hint at which kind of personal data, common Chinese surnames, and the shapes
//! of personal names and postal addresses.
//!
//! Kept apart from the decision logic in `semantic` so ontology maintainers and reviewers can read
//! (and extend) the word lists in one place. Names and addresses have no checksum, so these shape
//! rules are deliberately conservative and only decide together with the rest of the evidence.

use crate::privacy::pii::PiiType;

/// Words of a column name: `customerPhoneNo` → `customer phone no`; Chinese kept as is.
pub fn name_words(name: &str) -> String {
    let mut out = String::new();
    let mut prev_lower = false;
    for c in name.chars() {
        if c == '_' || c == '-' || c == '.' || c == ' ' {
            out.push(' ');
            prev_lower = false;
        } else if c.is_ascii_uppercase() {
            if prev_lower {
                out.push(' ');
            }
            out.push(c.to_ascii_lowercase());
            prev_lower = false;
        } else {
            out.push(c);
            prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        }
    }
    format!(" {} ", out.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// Whether the padded word string contains any of `keys` (English keys match whole words or word
/// sequences; keys with non-ASCII characters match anywhere).
pub(super) fn has(words: &str, keys: &[&str]) -> bool {
    keys.iter().any(|k| {
        if k.is_ascii() {
            words.contains(&format!(" {k} "))
        } else {
            words.contains(k)
        }
    })
}

/// Column-name words for things that are not people (a brand, a city: capitalised words too).
pub(super) const NOT_PERSON: [&str; 30] = [
    "product", "item", "goods", "brand", "category", "shop", "store", "seller", "company", "file",
    "table", "column", "city", "state", "country", "sku", "host", "street", "road", "avenue",
    "place", "商品", "品牌", "店铺", "公司", "类目", "城市", "街道", "道路", "地点",
];

/// Name hints for each PII type.
pub(super) fn pii_name_hint(words: &str) -> Option<PiiType> {
    use PiiType::*;
    let table: [(PiiType, &[&str]); 10] = [
        (
            IdCard,
            &[
                "id card",
                "idcard",
                "id number",
                "id no",
                "identity",
                "identity card",
                "national id",
                "身份证",
                "证件号",
            ],
        ),
        (
            BankCard,
            &[
                "bank card",
                "card no",
                "card number",
                "credit card",
                "debit card",
                "bank account",
                "account no",
                "银行卡",
                "卡号",
                "银行账号",
            ],
        ),
        (
            Uscc,
            &[
                "uscc",
                "credit code",
                "social credit code",
                "统一社会信用代码",
                "信用代码",
            ],
        ),
        (
            Phone,
            &[
                "phone",
                "mobile",
                "tel",
                "telephone",
                "cellphone",
                "phone number",
                "手机",
                "电话",
                "联系方式",
            ],
        ),
        (
            Email,
            &["email", "e mail", "mail", "邮箱", "电子邮件", "邮件"],
        ),
        (
            IpAddress,
            &["ip", "ip address", "ip addr", "client ip", "ip地址"],
        ),
        (Passport, &["passport", "护照"]),
        (
            BirthDate,
            &[
                "birthday",
                "birth date",
                "date of birth",
                "dob",
                "birthdate",
                "生日",
                "出生日期",
            ],
        ),
        (
            Address,
            &[
                "address",
                "addr",
                "street",
                "street address",
                "shipping address",
                "地址",
                "住址",
                "收货地址",
            ],
        ),
        (
            PersonName,
            &[
                "name",
                "full name",
                "first name",
                "last name",
                "customer name",
                "user name",
                "contact",
                "consignee",
                "receiver",
                "recipient",
                "姓名",
                "收货人",
                "联系人",
                "名字",
                "真实姓名",
            ],
        ),
    ];
    table.iter().find_map(|(t, keys)| {
        let hit = has(words, keys);
        let blocked = *t == PersonName && has(words, &NOT_PERSON);
        (hit && !blocked).then_some(*t)
    })
}

/// Common Chinese surnames (the 100 most frequent, which cover about 85% of the population).
pub(super) const SURNAMES: &str = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查麻苑迟邝";

pub(super) fn is_han(c: char) -> bool {
    ('\u{4e00}'..='\u{9fff}').contains(&c)
}

/// A Chinese personal name: 2–4 Han characters starting with a common surname.
pub(super) fn looks_like_zh_name(v: &str) -> bool {
    let chars: Vec<char> = v.chars().collect();
    (2..=4).contains(&chars.len())
        && chars.iter().all(|&c| is_han(c))
        && SURNAMES.contains(chars[0])
}

/// An English personal name: 2–3 capitalised alphabetic words (optional title, initials).
pub(super) fn looks_like_en_name(v: &str) -> bool {
    let words: Vec<&str> = v
        .split_whitespace()
        .filter(|w| {
            !matches!(
                *w,
                "Mr."
                    | "Mrs."
                    | "Ms."
                    | "Dr."
                    | "Mr"
                    | "Mrs"
                    | "Ms"
                    | "Dr"
                    | "Prof"
                    | "Prof."
                    | "Miss"
                    | "Jr."
                    | "Sr."
                    | "II"
                    | "III"
                    | "MD"
                    | "DDS"
                    | "PhD"
                    | "DVM"
            )
        })
        .collect();
    (2..=3).contains(&words.len())
        && words.iter().all(|w| {
            let mut cs = w.chars();
            cs.next().is_some_and(|c| c.is_ascii_uppercase())
                && w.len() <= 20
                && cs.all(|c| c.is_ascii_lowercase() || c == '\'' || c == '-' || c == '.')
        })
}

/// A postal address: Chinese administrative units, or a US-style street line / ZIP code.
pub(super) fn looks_like_address(v: &str) -> bool {
    let chars = v.chars().count();
    if v.chars().any(is_han) {
        let region = ["省", "市", "自治区", "特别行政区"]
            .iter()
            .any(|k| v.contains(k));
        let local = [
            "区", "县", "镇", "乡", "路", "街", "道", "号", "村", "巷", "弄", "室",
        ]
        .iter()
        .filter(|k| v.contains(*k))
        .count();
        return chars >= 6 && region && local >= 1;
    }
    let line = v.replace('\n', ", ");
    let starts_with_number = line
        .split_whitespace()
        .next()
        .is_some_and(|w| w.chars().all(|c| c.is_ascii_digit()) && w.len() <= 6);
    let has_zip = line
        .split(|c: char| !c.is_ascii_alphanumeric())
        .any(|w| w.len() == 5 && w.chars().all(|c| c.is_ascii_digit()));
    let street = [
        " St", " Street", " Ave", " Avenue", " Rd", " Road", " Ln", " Lane", " Dr", " Drive",
        " Blvd", " Way", " Ct", " Court", " Pl", " Suite", " Apt", "Box ",
    ];
    let parts = line.split(", ").filter(|p| !p.trim().is_empty()).count();
    chars >= 10
        && ((starts_with_number && (has_zip || street.iter().any(|s| line.contains(s))))
            || (parts >= 2 && has_uk_postcode(&line)))
}

/// A UK postcode (`SW1A 1AA`, `M29 5LL`): outward code, a space, inward code.
fn has_uk_postcode(line: &str) -> bool {
    let words: Vec<&str> = line
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|w| !w.is_empty())
        .collect();
    let outward = |w: &str| {
        let b = w.as_bytes();
        let letters = b.iter().take_while(|c| c.is_ascii_uppercase()).count();
        (2..=4).contains(&b.len())
            && (1..=2).contains(&letters)
            && b.get(letters).is_some_and(u8::is_ascii_digit)
            && b[letters + 1..]
                .iter()
                .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
    };
    let inward = |w: &str| {
        let b = w.as_bytes();
        b.len() == 3 && b[0].is_ascii_digit() && b[1..].iter().all(u8::is_ascii_uppercase)
    };
    words.windows(2).any(|p| outward(p[0]) && inward(p[1]))
}
