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
    stock(products, users)


# The stock watch's sample: 90 days of order lines before the stock snapshot of 2024-10-28, the
# snapshot itself (three warehouses, lots with shelf life for food and drink) and movements
# after it. Drawn from a second generator, so the files above stay as they were. Planted, each
# exactly once: two hot sellers running low and one out of stock, a lot expiring within days and
# one expired, two dead SKUs, one overstocked; and three bad stock rows for the quarantine.
AS_OF = 1730073600  # 2024-10-28T00:00:00Z
WAREHOUSES = [("WH-SH", "上海嘉定仓"), ("WH-GZ", "广州白云仓"), ("WH-CD", "成都双流仓")]


def stock(products, users):
    rs = random.Random(SEED + 1)
    valid = [p for i, p in enumerate(products[:3000]) if p[1] and i % 997 != 3 and i % 1499 != 11]
    by_id = {p[0]: p for p in valid}
    food = [p[0] for p in valid if p[4] in ("水果", "蒙牛")]
    first = lambda cat, n=1: [p[0] for p in valid if p[4] == cat][:n]
    phones = first("手机", 2)
    PLANTED = {
        "low": [(phones[0], "WH-SH"), (phones[1], "WH-SH")],
        "out": [(first("平板")[0], "WH-GZ")],
        "dead": [(first("衣服")[0], "WH-CD"), (first("书籍")[0], "WH-SH")],
        "over": [(first("洗发水")[0], "WH-SH")],
    }
    day = 86400
    start = AS_OF - 90 * day
    # (pid, warehouse) → daily rate, weekly shape, shelf life in days (food) and lead time.
    positions = {}
    planted_ids = {pid for k in ("low", "out", "dead", "over") for pid, _ in PLANTED[k]}
    healthy = [p for p in rs.sample(valid, 80) if p[0] not in planted_ids][:30]
    for p in healthy:
        for wh, _ in rs.sample(WAREHOUSES, rs.choice([1, 1, 2, 3])):
            positions[(p[0], wh)] = dict(rate=rs.uniform(1.5, 4.0), weekly=rs.random() < 0.4, lead=rs.choice([3, 5, 7, 7, 10, 14]))
    for pid, wh in PLANTED["low"] + PLANTED["out"]:
        positions[(pid, wh)] = dict(rate=rs.uniform(10, 14), weekly=True, lead=7)
    for pid, wh in PLANTED["over"]:
        positions[(pid, wh)] = dict(rate=1.0, weekly=False, lead=7)
    for pid, wh in PLANTED["dead"]:
        positions[(pid, wh)] = dict(rate=0.0, weekly=False, lead=7)
    fruit = [pid for pid in food if by_id[pid][4] == "水果" and (pid, "WH-GZ") not in positions][0]
    dairy = [pid for pid in food if by_id[pid][4] == "蒙牛" and (pid, "WH-GZ") not in positions][0]
    positions[(fruit, "WH-GZ")] = dict(rate=4.0, weekly=False, lead=3)
    positions[(dairy, "WH-GZ")] = dict(rate=3.0, weekly=False, lead=5)
    shape = [0.8, 0.8, 0.9, 0.9, 1.0, 1.4, 1.4]  # Monday … Sunday
    orders, uids = [], [u[0] for u in users]
    for (pid, wh), pos in sorted(positions.items()):
        for d in range(90):
            t0 = start + d * day
            weekday = (d + 3) % 7  # 2024-07-30 was a Tuesday
            lam = pos["rate"] * (shape[weekday] if pos["weekly"] else 1.0)
            units = poisson(rs, lam)
            while units > 0:
                q = min(units, rs.choice([1, 1, 1, 2, 3]))
                units -= q
                orders.append([f"O{len(orders):06d}", rs.choice(uids), pid, q, wh, t0 + rs.randint(0, day - 1)])
    orders.sort(key=lambda o: o[5])
    for i, o in enumerate(orders):
        o[0] = f"O{i:06d}"
    write("orders.csv", ["order_id", "user_id", "product_id", "qty", "warehouse", "ts"], orders)

    def iso(t):
        import datetime
        return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%d")

    rows = []
    snap = "2024-10-28 00:00:00"
    names = dict(WAREHOUSES)
    for (pid, wh), pos in sorted(positions.items()):
        rate, lead = pos["rate"], pos["lead"]
        cost = round(float(by_id[pid][2].replace("￥", "").replace(",", "").replace("元", "")) * 0.6, 2)
        reserved = 0
        if (pid, wh) in PLANTED["low"]:
            on_hand = round(rate * rs.uniform(1.5, 2.5))
        elif (pid, wh) in PLANTED["out"]:
            on_hand, reserved = 6, 6
        elif (pid, wh) in PLANTED["dead"]:
            on_hand = 80
        elif (pid, wh) in PLANTED["over"]:
            on_hand = 400
        else:
            on_hand = round(rate * rs.uniform(35, 55))
            reserved = rs.randint(0, max(0, round(rate)))
        transit = 0 if (pid, wh) in PLANTED["low"] + PLANTED["out"] or rs.random() < 0.7 else round(rate * rs.uniform(3, 10))
        is_food = by_id[pid][4] in ("水果", "蒙牛")
        base = [pid, wh, names[wh]]
        if (pid, wh) == (fruit, "WH-GZ"):
            # Two lots: 40 units expiring in 4 days, the rest good for two weeks more.
            rows.append(base + [40, 0, 0, lead, "L-F1", "2024-10-10", "2024-11-01", cost, snap])
            rows.append(base + [on_hand, reserved, transit, lead, "L-F2", "2024-10-24", "2024-11-30", cost, snap])
        elif (pid, wh) == (dairy, "WH-GZ"):
            # An expired lot still on the shelf beside a good one.
            rows.append(base + [12, 0, 0, lead, "L-D1", "2024-07-20", "2024-10-25", cost, snap])
            rows.append(base + [on_hand, reserved, transit, lead, "L-D2", "2024-10-15", "2025-04-15", cost, snap])
        elif is_food:
            made = AS_OF - rs.randint(5, 30) * day
            rows.append(base + [on_hand, reserved, transit, lead, f"L-{pid}-{wh[-2:]}", iso(made), iso(made + rs.randint(150, 300) * day), cost, snap])
        else:
            rows.append(base + [on_hand, reserved, transit, lead, "", "", "", cost, snap])
    # The dirt: negative stock, a lot that expires before it was made, a SKU nobody sells.
    rows.append([healthy[0][0], "WH-CD", names["WH-CD"], -5, 0, 0, 7, "", "", "", "", snap])
    rows.append([food[0], "WH-SH", names["WH-SH"], 20, 0, 0, 5, "L-BAD", "2024-10-20", "2024-09-01", "", snap])
    rows.append(["P99999", "WH-SH", names["WH-SH"], 10, 0, 0, 7, "", "", "", "", snap])
    write("stock.csv", ["sku", "warehouse", "warehouse_name", "on_hand", "reserved", "in_transit", "lead_time_days",
                        "lot", "production_date", "expiry_date", "unit_cost", "snapshot_at"], rows)
    # After the snapshot: a receipt of an overdue order and a shipment, and one row of an
    # unknown kind for the quarantine.
    mid = healthy[1][0]
    mwh = [wh for (pid, wh) in positions if pid == mid][0]
    moves = [["M0001", mid, mwh, "receipt", 30, "2024-10-28 09:00:00"],
             ["M0002", mid, mwh, "shipment", 12, "2024-10-28 15:30:00"],
             ["M0003", mid, mwh, "teleport", 5, "2024-10-28 16:00:00"]]
    write("movements.csv", ["movement_id", "sku", "warehouse", "kind", "quantity", "moved_at"], moves)
    print(f"{len(orders)} order lines, {len(rows)} stock rows, {len(moves)} movements; planted {PLANTED}, fruit {fruit}, dairy {dairy}")


def poisson(rs, lam):
    # Knuth's method (lam is small here).
    if lam <= 0:
        return 0
    import math
    l, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rs.random()
        if p <= l:
            return k
        k += 1


if __name__ == "__main__":
    main()
