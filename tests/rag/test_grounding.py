"""rag/grounding.py: which answers are drawn from their passages (exact cases, both languages)."""

from rag.grounding import (
    added_words,
    counted_thing,
    cross_language,
    grounded_share,
    is_grounded,
    question_share,
    question_terms,
)

PASSAGE = ("Net sales were $1,250 million in fiscal 2023, up from $1,100 million. "
           "The company operates 1,138 stores in the United States and Canada.")
ZH_PASSAGE = "本文选取2015-2021年安徽省专精特新企业作为样本，数据来自国泰安数据库。"


def test_added_words_leave_out_the_question_yes_no_and_plurals():
    assert added_words("Yes, the stores are in Canada [1].", "Where are the stores?") == ["canada"]
    assert added_words("Sales were 1,250 millions.", "What were the sales?") == ["1", "250", "million"]
    assert added_words("Operating income increased.", "Did the operations increase?") == ["incom"]


def test_an_answer_copied_from_the_passage_is_grounded():
    assert is_grounded("The company operates 1,138 stores in the United States and Canada [1].",
                       "How many stores does the company have?", [PASSAGE])
    assert grounded_share("Net sales were $1,250 million [1].", "What were net sales?", [PASSAGE]) == 1.0


def test_printed_figures_joined_by_a_generic_word_are_grounded():
    # the page prints both indices and says 上升, not 增长: the figures are what the answer drew from it
    page = "全要素生产率指数由2015年的1.012上升至2021年的1.033。"
    question = "2015-2021年全要素生产率指数是怎么变化的？"
    assert grounded_share("全要素生产率指数从1.012增长到1.033。[1]", question, [page]) == 1.0
    assert is_grounded("全要素生产率指数从1.012增长到1.033。[1]", question, [page])
    # a generic word the page prints still counts for the answer: "rose" is not there, "million" is
    assert is_grounded("Net sales rose to $48.2 million in 2023 [1].", "What were net sales in fiscal 2023?",
                       ["In fiscal 2023 the company reported net sales of 48.2 million dollars."])
    # generic words alone are still judged: "described" is on no page
    assert grounded_share("The debt securities are described in [4].", "Which debt securities are registered?",
                          [PASSAGE]) == 0.0


def test_an_invented_detail_is_not_grounded():
    assert not is_grounded("The CEO's favourite colour is blue [1].", "What is the CEO's favourite colour?",
                           [PASSAGE])
    assert not is_grounded("作者最喜欢蓝色。[1]", "作者最喜欢什么颜色？", [ZH_PASSAGE])


def test_a_restated_question_is_not_grounded_unless_it_answers_yes_or_no():
    question = "What did the board eat for lunch at the annual meeting?"
    assert grounded_share("The board ate lunch at the annual meeting [1].", question, [PASSAGE]) == 0.0
    assert grounded_share("The board eat lunch at the annual meeting [1].", question, [PASSAGE]) is None
    assert not is_grounded("The board eat lunch at the annual meeting [1].", question, [PASSAGE])
    assert is_grounded("Yes, the company operates stores in Canada.", "Does the company operate stores in Canada?",
                       [PASSAGE])
    # an inflected question word is no added word: "increased" answers "increase"
    assert is_grounded("Yes, net sales increased in fiscal 2023 [1].", "Did net sales increase in fiscal 2023?",
                       ["Net sales rose in every quarter."])


def test_computed_figures_do_not_count_against_an_answer():
    # a ratio no passage prints: only figures added, so it is not judged on them
    assert is_grounded("The ratio is 1.14 [1].", "What is the ratio of this year's sales to last year's?", [PASSAGE])


def test_chinese_answer_from_the_passage_is_grounded():
    assert is_grounded("数据来自国泰安数据库。[1]", "本文的企业数据来自哪个数据库？", [ZH_PASSAGE])


def test_chinese_is_judged_by_words_not_single_characters():
    # 从 / 到 / 为 / 家 are not in the passage, but they say nothing about where the answer came from
    passage = "2015-2021年全要素生产率指数增长较快。高成长性组30家企业，低成长性组17家企业。"
    assert is_grounded("全要素生产率指数从1.012增长到1.033。[1]", "全要素生产率指数是怎么变化的？", [passage])
    assert is_grounded("高成长性组：30家 低成长性组：17家[2]", "高成长性组和低成长性组各有多少家企业？", [passage])
    assert added_words("作者早餐通常吃包子。[1]", "作者早餐通常吃什么？") == ["包子"]
    assert not is_grounded("作者早餐通常吃包子。[1]", "作者早餐通常吃什么？", [passage])


# --- answers to questions no passage speaks of -----------------------------------------
FILING = ("Jane Doe, Chief Financial Officer, signed this report on February 1, 2024. "
          "The company employs 12,400 people and operates 1,138 stores in the United States and Canada.")
ZH_AUTHORS = "作者简介：王明，安徽大学经济学院教授，研究方向为数字金融。本文选取2015-2021年安徽省专精特新企业作为样本。"


def test_a_name_borrowed_from_the_page_does_not_answer_a_question_it_never_speaks_of():
    # every word the answer adds is on the page (the old check kept it); what was asked is not
    question = "Who catered the company's picnic in Antarctica?"
    answer = "Jane Doe catered the picnic in Antarctica [1]."
    assert grounded_share(answer, question, [FILING]) == 1.0
    assert question_share(question, [FILING]) == 0.0
    assert not is_grounded(answer, question, [FILING])
    zh_question = "哪位足球运动员为这篇论文写了序言？"
    assert question_share(zh_question, [ZH_AUTHORS]) == 0.0
    assert not is_grounded("王明为这篇论文写了序言。[1]", zh_question, [ZH_AUTHORS])


def test_a_count_or_figure_from_the_page_does_not_answer_a_question_it_never_speaks_of():
    assert not is_grounded("The company owns 1,138 parrots [1].", "How many parrots does the company own?", [FILING])
    assert not is_grounded("作者每年喝12,400杯奶茶。[1]", "作者最喜欢喝什么奶茶？", [ZH_AUTHORS])


def test_right_answers_of_each_kind_are_kept():
    # a person, a count, a figure: the question's words are on the page the answer comes from
    assert is_grounded("Jane Doe signed the report as Chief Financial Officer [1].",
                       "Who is the company's chief financial officer?", [FILING])
    assert is_grounded("The company employs 12,400 people [1].", "How many people does the company employ?", [FILING])
    assert is_grounded("Net sales were $1,250 million in fiscal 2023 [1].", "What were net sales in fiscal 2023?",
                       [PASSAGE])
    assert is_grounded("王明是安徽大学经济学院教授。[1]", "论文作者在哪所大学任教？", [ZH_AUTHORS])
    assert is_grounded("样本为2015-2021年安徽省专精特新企业。[1]", "本文的样本是哪些企业？", [ZH_AUTHORS])
    # a question of one distinctive word is not judged: the slide prints the name, not "presenter"
    assert is_grounded("Jane Doe [1].", "Who is the presenter of this slide?", [FILING])


# J&J's 2023 10-K prints a segment table with these figures; what the question counts is not on it.
SEGMENTS = ("Johnson & Johnson segment information. Consumer Health segment: 582 employees in Europe, "
            "282 in the Middle East and Africa. Pharmaceutical segment sales by region.")
MANUAL = "Replacing the grille (a screwdriver is required): 1. Unscrew the two screws. 2. Lift the grille. 3. Fit the new grille and screw it tight."


def test_a_bare_figure_counts_what_was_asked_only_where_the_page_speaks_of_it():
    cars = "How many company cars did Johnson & Johnson's Consumer Health segment lease in Iceland in 2023?"
    assert counted_thing(cars) == "car"
    # every word the question shares with the page is a segment's name: "cars", "lease" and "Iceland" are not there
    assert not is_grounded("[3] 582 [3] 282", cars, [SEGMENTS])
    assert is_grounded("[1] 582 [1] 282", "How many employees does Johnson & Johnson's Consumer Health segment "
                       "have in Europe and in the Middle East and Africa?", [SEGMENTS])
    # a manual's numbered steps are counted without the word "steps": the rest of the question is on the page
    assert is_grounded("3 [1]", "How many steps are required to replace the grille?", [MANUAL])
    assert not is_grounded("2个[1]", "作者有几个兄弟姐妹？", [ZH_AUTHORS])
    # a figure alone is in the question's language, not "another language" judged by its figures
    # only: the page prints 2 (2015-2021), but nothing of siblings
    assert not is_grounded("2[1]", "作者有几个兄弟姐妹？", [ZH_AUTHORS])
    # a question that asks only for the counted thing has no rest to vouch for the figure
    coffee = "写这篇论文时作者喝了多少杯咖啡？"
    assert counted_thing(coffee) == "咖啡"
    assert not is_grounded("2015杯咖啡[1]。", coffee, [ZH_AUTHORS])
    assert is_grounded("2015杯咖啡[1]。", coffee, [ZH_AUTHORS + "作者每天喝咖啡。"])  # a page that speaks of coffee
    # a figure with words of its own is judged by its words, as before
    assert counted_thing("How many times does HIT appear?") is None and counted_thing("How many pages?") is None


def test_generic_words_of_a_question_say_nothing_about_its_subject():
    assert question_terms("What is the FY2022 total amount of the company's inventories? Round to one decimal "
                          "place.") == {"inventori"}
    assert question_terms("请用中文总结这篇论文的主要内容。") == set()


# --- a question in one language over a document in the other -----------------------------
KENVUE = ("Johnson & Johnson completed the separation of Kenvue, its Consumer Health business. The company "
          "received cash proceeds of $13.2 billion and recorded a gain of approximately $21.0 billion.")


def test_a_chinese_answer_over_an_english_page_is_judged_by_what_it_shares_with_it():
    question = "请用中文总结强生公司这份8-K文件的主要内容。"
    assert cross_language("强生完成了Kenvue的分拆。", [KENVUE])
    # its Chinese words can never be on the English page; Kenvue and the amount ($13.2 billion = 132亿美元) are
    assert is_grounded("强生公司完成了消费者健康业务Kenvue的分拆，获得132亿美元现金收益。[1]", question, [KENVUE])
    assert is_grounded("文件介绍了强生公司分拆消费者健康业务的情况。[1]", question, [KENVUE])  # nothing to check: kept
    assert not is_grounded("强生公司获得了500亿美元现金。[1]", question, [KENVUE])  # a figure the page does not print


def test_an_english_answer_over_a_chinese_page_is_kept_unless_its_figures_are_not_there():
    passage = "高成长性组30家企业，低成长性组17家企业。数据来自国泰安数据库。"
    references = "References: Liu Y., Digital finance and firm growth, Journal of Finance, 2020."
    assert cross_language("The data come from the CSMAR database.", [passage, references])  # a paper's English references
    assert is_grounded("The data come from the CSMAR database [1].", "Which database do the data come from?",
                       [passage, references])
    assert is_grounded("The data come from the CSMAR database [1].", "Which database do the data come from?",
                       [passage])
    assert is_grounded("The high-growth group has 30 firms and the low-growth group 17 [1].",
                       "How many firms are in the high-growth and low-growth groups?", [passage])
    assert not is_grounded("The high-growth group has 45 firms [1].", "How many firms are in the high-growth group?",
                           [passage])


def test_an_english_answer_to_a_chinese_question_over_an_english_page_is_judged_by_its_words():
    # the question's words cannot be on the page; the answer's are
    assert is_grounded("Johnson & Johnson received cash proceeds of $13.2 billion [1].", "强生获得了多少现金？", [KENVUE])
    assert not is_grounded("The CEO's favourite colour is blue [1].", "首席执行官最喜欢什么颜色？", [KENVUE])


def test_words_with_digits_are_figures_not_words_the_passages_must_print():
    from rag.grounding import grounded_share

    passage = "Operating income was 6,098 in fiscal 2022 and 5,802 in fiscal 2021."
    assert grounded_share("Operating income FY2022 6,098 Q4", "What was it?", [passage]) == 1.0
