"""A small built-in calibration set, written for this project (Apache-2.0 like the code).

``qa-demo export --int8`` calibrates NNCF's static INT8 on it when no file is given, and measures
each faster route's agreement with FP32 on it. The texts are plain encyclopedic prose with
names, places, dates and numbers, so that activations cover what QA and NER models see; they
are fiction and make no claim about real people or places.
"""

from __future__ import annotations

#: (question, context) pairs in English.
ENGLISH = (
    (
        "Who founded the observatory?",
        "The Harwick Observatory was founded in 1931 by the astronomer Clara Bennett. It stands on "
        "a hill north of the town and its main telescope has a mirror 1.2 metres across.",
    ),
    (
        "When did the bridge open?",
        "The Old Mill Bridge opened to traffic on 14 May 1898. It replaced a wooden ferry landing "
        "and was designed by the engineer Thomas Reed, who also built the railway station.",
    ),
    (
        "What does the company make?",
        "Northwind Instruments is a company based in Leeds that makes weather sensors for farms. "
        "It employs about 240 people and sells to customers in 35 countries.",
    ),
    (
        "How long is the river?",
        "The Carran River is 212 kilometres long. It rises in the Blackmoor Hills, flows through "
        "three market towns and reaches the sea at Port Ellis, where a lighthouse marks its mouth.",
    ),
    (
        "Which city hosts the festival?",
        "Every August the city of Marlow hosts a music festival that lasts ten days. The first "
        "festival, in 1972, had four concerts; today it has more than two hundred.",
    ),
    (
        "Who wrote the report?",
        "The report on water quality was written by Dr. Amina Yusuf and published by the regional "
        "council in March 2019. It recommended new filters for six pumping stations.",
    ),
    (
        "What is the capital of the province?",
        "Greyford is the capital of the province of Westmere. The provincial assembly meets in a "
        "stone building from 1864, next to the central library and the cathedral.",
    ),
    (
        "How many students attend the school?",
        "Lakeside Technical School was opened in 1955. About 1,800 students attend it, and it "
        "offers courses in electronics, carpentry and nursing.",
    ),
    (
        "Where was the painter born?",
        "The painter Jonas Ekberg was born in Falun in 1847 and moved to Paris at the age of "
        "twenty. His landscapes of snowy forests made him famous in the 1880s.",
    ),
    (
        "What did the expedition find?",
        "In 1908 an expedition led by Margaret Hale crossed the southern glacier and found the "
        "remains of a whaling camp abandoned sixty years earlier.",
    ),
    (
        "Which team won the cup?",
        "The Riverside Rovers won the county cup in 2021 after beating Eastfield United 3-1 in the "
        "final. Their captain, Leo Martins, scored twice.",
    ),
    (
        "What language is spoken on the island?",
        "Most people on the island of Sarn speak Sarnish, a language related to the dialects of "
        "the nearby coast. English is used in schools and in government offices.",
    ),
)

#: (question, context) pairs in Japanese, with full-width digits, half-width katakana and ㈱ as
#: users paste them.
JAPANESE = (
    (
        "天文台を設立したのは誰ですか？",
        "北見天文台は１９３１年に天文学者の佐伯ハルが設立した。町の北の丘に建ち、"
        "主望遠鏡の鏡の直径は１．２メートルである。",
    ),
    (
        "橋が開通したのはいつですか？",
        "旧水車橋は1898年5月14日に開通した。それまでの渡し船に代わるもので、設計は"
        "技師の森田健一が担当し、森田は駅舎も手がけた。",
    ),
    (
        "その会社は何を作っていますか？",
        "㈱ミナト精工は横浜に本社を置き、農場向けの気象センサーを製造している。従業員は"
        "約２４０人で、３５か国に製品を販売している。",
    ),
    (
        "川の長さはどれくらいですか？",
        "香川川の長さは212キロメートルである。黒森山地に源を発し、三つの町を流れて、"
        "灯台のある港町で海に注ぐ。",
    ),
    (
        "祭りが開かれるのはどの都市ですか？",
        "毎年８月、松本市では１０日間にわたる音楽祭が開かれる。１９７２年の第１回は演奏会が"
        "四つだけだったが、現在は２００を超える。",
    ),
    (
        "報告書を書いたのは誰ですか？",
        "水質に関する報告書は山本真理子博士が執筆し、2019年3月に県議会が公表した。"
        "報告書は六つの浄水場に新しいフィルターを設けるよう勧めた。",
    ),
    (
        "県庁所在地はどこですか？",
        "西浜県の県庁所在地は灰原市である。県議会は1864年に建てられた石造りの建物で開かれ、"
        "隣には中央図書館と大聖堂がある。",
    ),
    (
        "学校には何人の生徒が通っていますか？",
        "湖畔工業高校は１９５５年に開校した。約１８００人の生徒が通い、電子工学、木工、"
        "看護の課程がある。",
    ),
    (
        "画家はどこで生まれましたか？",
        "画家の大橋清は1847年に金沢で生まれ、二十歳でパリに移った。雪の森を描いた風景画で"
        "1880年代に名を知られた。",
    ),
    (
        "探検隊は何を見つけましたか？",
        "1908年、原田マサ率いる探検隊は南の氷河を越え、六十年前に放棄された捕鯨基地の"
        "跡を見つけた。",
    ),
    (
        "優勝したのはどのチームですか？",
        "ﾘﾊﾞｰｻｲﾄﾞ・ﾛｰﾊﾞｰｽﾞは２０２１年の県大会決勝で東野ユナイテッドを３対１で破り、"
        "優勝した。主将の松田玲央が２得点を挙げた。",
    ),
    (
        "島ではどの言語が話されていますか？",
        "佐渡見島の住民の多くは、近くの沿岸の方言に近い島言葉を話す。学校と役所では"
        "標準語が使われている。",
    ),
)


def calibration_pairs(language: str) -> list[tuple[str, str]]:
    """The built-in (question, context) pairs of ``language`` ("ja" or "en")."""
    return list(JAPANESE if language == "ja" else ENGLISH)
