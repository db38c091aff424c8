"""Questions the evaluation documents cannot answer, for the answer benchmark (bench/answers.py).

Ours, not evaluation data: generic questions about things no filing, report or paper
states, so the right answer is the abstention sentence (rag.prompting.NOT_IN_DOCS_EN /
NOT_IN_DOCS_ZH). They avoid what the documents do hold: the Chinese paper lists its
authors' birth months, home towns, e-mail addresses, phone number and postal address, so
none of those is asked; filings state head counts, offices and executives' pay.

Two kinds per set: generic questions (a favourite colour, a pet's name) and specific ones
that name a real company or the document and ask for a person, a count or a figure it does
not print (the Brazilian subsidiary's CFO, employees in Antarctica): a small model answers
those with a name or a figure borrowed from the passages, which a check that only asks
"are the answer's words on the page?" lets through. ``BY_SET`` alternates the two kinds, so
a capped run (``--answer-questions 8``) asks both.
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

# Named companies of the FinanceBench filings: a person, a count or a figure none prints.
FINANCE_SPECIFIC_EN = (
    "Who is the chief financial officer of Adobe's Brazilian subsidiary?",
    "How many employees does Amazon have in Antarctica?",
    "How much did Costco spend on in-flight catering for its corporate jet in FY2021?",
    "Who designed the uniforms of Best Buy's store employees in FY2024?",
    "How many beehives does PepsiCo keep on the roof of its headquarters?",
    "What did Microsoft spend on office plants in FY2023?",
    "Who was the head chef of Netflix's staff cafeteria in 2015?",
    "How many parking garages does Ulta Beauty own in Alaska?",
    "Who is the general manager of MGM Resorts' casino in Antarctica?",
    "How many company cars did Johnson & Johnson's Consumer Health segment lease in Iceland in 2023?",
    "What was Amcor's spending on office coffee in FY2023?",
    "Who is Foot Locker's head of store security in Iceland?",
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

DOCUMENTS_SPECIFIC_EN = (
    # the first author's own accountant, not the publisher's auditor: the 10-Ks name theirs
    "Who was the personal accountant of this document's first author in the year it was written?",
    "How many employees does the publisher of this document have in Antarctica?",
    "How much did it cost to print this document?",
    "Who is the mayor of the town where the author of this document grew up?",
    "What salary does the author of this document earn?",
    "How many times did the author rewrite the first chapter of this document?",
    "Who catered the launch party of this document?",
    "How many pages of this document were written on a train?",
    "Who is the landlord of the author's office?",
    "How much did the author pay for the laptop used to write this document?",
    "Who is the best friend of the author of this document?",
    "How many emails did the author receive about this document?",
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

# The Chinese paper: a person, a count or a figure it does not print.
PAPER_SPECIFIC_ZH = (
    "哪位足球运动员为这篇论文写了序言？",
    "安徽省的专精特新企业在南极洲有多少个分支机构？",
    "这篇论文的作者为写论文花了多少元打车费？",
    "为样本企业设计商标的设计师是谁？",
    "作者写这篇论文期间去了几次海南？",
    "样本企业的员工2021年平均每人喝了多少杯奶茶？",
    "安徽省省长的秘书叫什么名字？",
    "专精特新企业在火星上建了多少座工厂？",
    "论文的审稿人最喜欢哪位歌手？",
    "样本企业2021年在广告上给明星代言人付了多少钱？",
    "作者的大学室友现在在哪家公司工作？",
    "样本企业的董事长们平均每年打几场高尔夫？",
)


def _alternate(first: tuple[str, ...], second: tuple[str, ...]) -> tuple[str, ...]:
    """first[0], second[0], first[1], second[1], ...: a capped run asks both kinds."""
    return tuple(q for pair in zip(first, second) for q in pair)


# Which list each answer set uses.
BY_SET = {
    "financebench": _alternate(FINANCE_EN, FINANCE_SPECIFIC_EN),
    "finance54": _alternate(FINANCE_EN, FINANCE_SPECIFIC_EN),
    "mmlongbench": _alternate(DOCUMENTS_EN, DOCUMENTS_SPECIFIC_EN),
    "zh": _alternate(PAPER_ZH, PAPER_SPECIFIC_ZH),
}
