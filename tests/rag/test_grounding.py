"""rag/grounding.py: which answers are drawn from their passages (exact cases, both languages)."""

from rag.grounding import added_words, grounded_share, is_grounded

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
