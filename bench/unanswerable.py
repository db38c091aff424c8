"""Questions the evaluation documents cannot answer, for the answer benchmark (bench/answers.py).

Ours, not evaluation data: generic questions about things no filing, report or paper
states, so the right answer is the abstention sentence (rag.prompting.NOT_IN_DOCS_EN /
NOT_IN_DOCS_ZH). They avoid what the documents do hold: the Chinese paper lists its
authors' birth months, home towns, e-mail addresses, phone number and postal address, so
none of those is asked; filings state head counts, offices and executives' pay.
"""

from __future__ import annotations

# Any of the FinanceBench filings (10-Ks, 10-Qs, 8-Ks, earnings releases).
FINANCE_EN = (
    "How many parrots does the company own?",
    "What is the CEO's favourite colour?",
    "What is the name of the cat that lives in the company's headquarters?",
    "What is the Wi-Fi password of the company's main office?",
    "What did the board members eat for lunch at the last annual meeting?",
    "What is the chief financial officer's shoe size?",
    "Which song did the employees choose as the company anthem?",
    "How many tulips were planted in front of the headquarters last spring?",
    "How many goals did the CFO score in the company football tournament?",
    "What is the name of the CEO's first pet?",
    "Which brand of coffee machine stands in the headquarters' break room?",
    "How many chess tournaments has the company's treasurer won?",
)

# MMLongBench-Doc's reports, papers, slides and manuals, indexed together.
DOCUMENTS_EN = (
    "How many parrots does the author of this document own?",
    "What is the favourite colour of the document's author?",
    "What did the author eat for breakfast on the day this document was published?",
    "What is the name of the author's dog?",
    "Which football team does the author of this document support?",
    "How many cups of coffee did the authors drink while writing this document?",
    "What is the author's favourite ice cream flavour?",
    "What was the weather in Reykjavik on the day this document was finished?",
    "What is the shoe size of the person who wrote this document?",
    "How many siblings does the author of this document have?",
    "Which musical instrument does the author play in their spare time?",
    "What is the name of the author's favourite restaurant?",
)

# The Chinese paper on 专精特新 firms in Anhui (eval/zh).
PAPER_ZH = (
    "这篇论文的作者养了几只猫？",
    "作者最喜欢什么颜色？",
    "作者早餐通常吃什么？",
    "作者的宠物狗叫什么名字？",
    "作者支持哪支足球队？",
    "写这篇论文时作者喝了多少杯咖啡？",
    "作者最喜欢的电影是哪一部？",
    "作者穿多大码的鞋？",
    "作者会弹什么乐器？",
    "作者最喜欢哪种口味的冰淇淋？",
    "论文完成那天北京的天气怎么样？",
    "作者有几个兄弟姐妹？",
)

# Which list each answer set uses.
BY_SET = {
    "financebench": FINANCE_EN,
    "finance54": FINANCE_EN,
    "mmlongbench": DOCUMENTS_EN,
    "zh": PAPER_ZH,
}
