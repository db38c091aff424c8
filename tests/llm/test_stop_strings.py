"""Stop strings are cut from streamed text even when they arrive split over deltas."""

from llm.stop_strings import StopStringFilter, trim_at_stop


def feed_all(deltas: list[str], stop: tuple[str, ...]) -> tuple[str, bool]:
    stops = StopStringFilter(stop)
    shown = "".join(stops.feed(d) for d in deltas)
    return shown + stops.flush(), stops.stopped


def test_stop_string_split_over_deltas_is_never_shown():
    assert feed_all(["Hello <|us", "er|> more"], ("<|user|>",)) == ("Hello ", True)


def test_held_back_prefix_is_released_when_it_does_not_complete():
    assert feed_all(["Hello <|u", "nicorn"], ("<|user|>",)) == ("Hello <|unicorn", False)


def test_earliest_of_several_stop_strings_wins():
    assert feed_all(["a END b STOP c"], ("STOP", "END")) == ("a ", True)


def test_no_stop_strings_passes_text_through():
    assert feed_all(["a", "b"], ()) == ("ab", False)


def test_trim_at_stop():
    assert trim_at_stop("answer\nQuestion: next", ["\nQuestion:"]) == "answer"
