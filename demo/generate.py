#!/usr/bin/env python3
"""Generates the demo's e-commerce sample (demo/data/*.csv), the data `stocktake demo` scans,
ingests and learns from. Standard library only; deterministic (seed below). Reproduce with
`python3 demo/generate.py` from the repository root.

The sample is small but shaped like a real shop's exports: 3,000 products in the ten review
categories of ../shared/data/text (Chinese titles, English brand and model names, full-width
characters and ￥/元 price formats as exports have them), sellers, 600 pseudonymous users whose
views and purchases follow category preferences (so embeddings have something to learn), reviews
with ratings, and the dirt a pipeline must survive: a few unparseable prices, empty titles,
prices 50× their category, the same product listed twice under slightly different titles, and a
review dated in the future. Personal data appears only in users.csv (phone numbers, e-mail), as
in a real user table, so the inventory has PII to find.
"""
import csv
import os
import random

SEED = 20261129
random.seed(SEED)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")

# category notation (taxonomy.ttl) → (brands, series, specs, colours, price median, spread)
CATEGORIES = {
    "手机": (["华为", "小米", "Apple", "OPPO", "vivo", "荣耀"], ["Mate 60", "Redmi K70", "iPhone 15", "Find X7", "X100", "Magic6"],
           ["8GB+256GB", "12GB+256GB", "12GB+512GB", "16GB+1TB"], ["黑色", "白色", "雅丹黑", "冰川蓝", "钛金属"], 4200, 0.45),
    "平板": (["Apple", "华为", "小米", "联想"], ["iPad Air", "MatePad 11", "Pad 6", "小新Pad"], ["128GB WiFi", "256GB WiFi", "8GB+256GB"],
           ["深空灰", "银色", "星光色"], 2800, 0.4),
    "计算机": (["联想", "Dell", "华硕", "惠普", "Apple"], ["ThinkPad X1", "XPS 13", "灵耀14", "战66", "MacBook Air"],
            ["i5 16GB 512GB", "i7 32GB 1TB", "M3 16GB 512GB"], ["黑色", "银色"], 7500, 0.35),
    "书籍": (["人民文学出版社", "中信出版社", "机械工业出版社", "Penguin"], ["三体全集", "活着", "深入理解计算机系统", "Sapiens"],
           ["平装", "精装", "典藏版"], [""], 59, 0.5),
    "水果": (["佳沛", "Dole", "百果园", "褚橙"], ["阳光金果", "香蕉", "烟台红富士苹果", "冰糖橙"], ["2.5kg装", "5斤装", "12个礼盒"], [""], 79, 0.4),
    "洗发水": (["海飞丝", "潘婷", "清扬", "飘柔"], ["去屑洗发露", "氨基酸修护洗发水", "男士控油洗发水"], ["400ml", "750ml", "1L家庭装"], [""], 59, 0.35),
    "热水器": (["美的", "海尔", "万和", "A.O.史密斯"], ["电热水器", "燃气热水器", "即热式热水器"], ["60升", "80升", "16升"], ["白色"], 2200, 0.4),
    "衣服": (["优衣库", "李宁", "安踏", "太平鸟"], ["纯棉T恤", "运动卫衣", "羽绒服", "休闲衬衫"], ["S", "M", "L", "XL"], ["黑色", "白色", "藏青色"], 199, 0.6),
    "蒙牛": (["蒙牛"], ["纯牛奶", "特仑苏", "酸酸乳", "真果粒"], ["250ml*24盒", "250ml*12盒", "200g*10袋"], [""], 69, 0.3),
    "酒店": (["如家", "汉庭", "全季", "亚朵"], ["北京王府井店", "上海外滩店", "杭州西湖店", "成都春熙路店"], ["标准间1晚", "大床房1晚", "家庭房1晚"], [""], 380, 0.35),
}
CITIES = ["北京", "上海", "杭州", "深圳", "广州", "成都", "武汉", "南京"]
POSITIVE = ["质量很好，物流也快", "非常满意，会回购", "性价比高，推荐购买", "包装完好，和描述一致", "用了一周，效果不错"]
NEGATIVE = ["一般般，包装有点破", "和图片不一样，失望", "发货太慢了", "用了两天就坏了", "不值这个价"]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
PROMOS = ["官方正品", "顺丰包邮", "现货速发", "新品上市", "限时特惠", "送礼佳品", "旗舰款", "2024款", "国行", "全国联保", "爆款"]
GIVEN = ["伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "涛", "明", "超", "秀英", "桂英", "建华", "晓峰"]


def fullwidth(s):
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else ("\u3000" if c == " " else c) for c in s)


def write(name, header, rows):
    with open(os.path.join(OUT, name), "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)


def main():
    os.makedirs(OUT, exist_ok=True)
    sellers = [(f"S{i:03d}", f"{random.choice(CITIES)}{cat}{random.choice(['旗舰店', '专营店', '优选店'])}", random.choice(CITIES))
               for i, cat in enumerate(random.choices(list(CATEGORIES), k=40))]
    write("sellers.csv", ["seller_id", "seller_name", "city"], sellers)

    products, by_cat = [], {c: [] for c in CATEGORIES}
    for i in range(3000):
        cat = random.choice(list(CATEGORIES))
        brands, series, specs, colours, median, spread = CATEGORIES[cat]
        k = random.randrange(len(brands))
        brand, line = brands[k], series[k % len(series)]
        sep = " " if brand[-1].isascii() and line[0].isascii() else ""
        promos = random.sample(PROMOS, random.randint(0, 3))
        title = " ".join(x for x in [f"{brand}{sep}{line}", random.choice(specs), random.choice(colours), cat if cat not in ("蒙牛", "酒店") else "", *promos] if x)
        price = round(median * random.lognormvariate(0, spread / 2), 2 if median < 200 else 0)
        pid = f"P{i:05d}"
        roll = random.random()
        if roll < 0.03:
            title = fullwidth(title)
        price_text = f"{price:.2f}" if median < 200 else f"{int(price)}"
        if roll > 0.97:
            price_text = f"￥{int(price):,}.00"
        elif 0.90 < roll <= 0.92:
            price_text = f"{int(price)}元"
        if i % 500 == 7:
            price_text = str(int(price * 50))  # an outlier
        if i % 997 == 3:
            price_text = "面议"  # unparseable: quarantined
        if i % 1499 == 11:
            title = ""  # empty title: quarantined
        products.append([pid, title, price_text, brand, cat, random.choice(sellers)[0]])
        by_cat[cat].append(pid)
    # The same listing twice, once with a colour word added: near duplicates.
    for j in range(15):
        src = products[j * 97]
        if src[1]:
            products.append([f"P9{j:04d}", src[1] + " 现货", src[2], src[3], src[4], random.choice(sellers)[0]])
            by_cat[src[4]].append(f"P9{j:04d}")
    write("products.csv", ["product_id", "title", "price", "brand", "category", "seller_id"], products)

    users, events, reviews = [], [], []
    for u in range(600):
        uid = f"U{u:05d}"
        phone = "1" + random.choice("3589") + "".join(random.choice("0123456789") for _ in range(9))
        name = random.choice(SURNAMES) + random.choice(GIVEN)
        users.append([uid, name, phone, f"user{u:05d}@example.com", random.choice(CITIES), f"2024-{random.randint(1, 12):02d}-{random.randint(1, 28):02d}"])
        liked = random.sample(list(CATEGORIES), 2)
        seen = set()
        for _ in range(random.randint(15, 40)):
            cat = random.choice(liked) if random.random() < 0.85 else random.choice(list(CATEGORIES))
            pid = random.choice(by_cat[cat])
            ts = 1704067200 + random.randint(0, 300 * 86400)
            events.append([uid, pid, "pv", ts])
            if random.random() < 0.2 and pid not in seen:
                seen.add(pid)
                events.append([uid, pid, "buy", ts + random.randint(60, 86400)])
                if random.random() < 0.6:
                    good = random.random() < 0.8
                    rating = random.choice([4, 5]) if good else random.choice([1, 2, 3])
                    day = f"2024-{random.randint(1, 12):02d}-{random.randint(1, 28):02d}"
                    reviews.append([f"R{len(reviews):05d}", pid, uid, rating, random.choice(POSITIVE if good else NEGATIVE), day])
    reviews.append([f"R{len(reviews):05d}", by_cat["手机"][0], "U00000", 5, "来自未来的评价", "2099-01-01"])
    write("users.csv", ["user_id", "name", "phone", "email", "city", "registered"], users)
    events.sort(key=lambda e: e[3])
    write("behaviour.csv", ["user_id", "product_id", "action", "ts"], events)
    write("reviews.csv", ["review_id", "product_id", "user_id", "rating", "content", "review_date"], reviews)
    print(f"{len(products)} products, {len(sellers)} sellers, {len(users)} users, {len(events)} events, {len(reviews)} reviews")


if __name__ == "__main__":
    main()
