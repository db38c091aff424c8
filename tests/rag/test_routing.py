from rag.routing import document_terms, query_names, route

def _entry(title: str, opening: str) -> tuple[set[str], set[str]]:
    return document_terms(title), document_terms(f"{title} {opening}")


CATALOGUE = {
    "3m": _entry("3M 2022 10K", "3M Company and Subsidiaries"),
    "amzn": _entry("AMAZON 2017 10K", "AMAZON.COM, INC."),
    "mgm": _entry("MGMRESORTS 2022Q4 EARNINGS", "MGM RESORTS INTERNATIONAL REPORTS FOURTH QUARTER adjusted EBIT"),
    "amcor": _entry("AMCOR 2023Q4 EARNINGS", "Adjusted EBIT and adjusted EPS grew"),
    "manual": _entry("camera guide", "Nikon D3500 User Manual"),
}

OTHERS = {f"other{i}": _entry(f"COMPANY{i} 2022 10K", "Annual report") for i in range(6)}


def test_names_and_periods_are_read_from_a_question():
    names = query_names("Is 3M a capital-intensive business based on FY2022 data?")
    assert names.names == {"3m"} and names.periods == {"2022"}
    names = query_names("What was MGM Resorts' revenue in Q4 2022?")
    assert names.names == {"mgm", "resorts"} and names.periods == {"q4", "2022"}
    assert query_names("What is the title of the slide?").names == set()


def test_a_question_naming_a_document_routes_to_it():
    assert route("What is Amazon's FY2017 days payable outstanding?", CATALOGUE) == ["amzn"]
    assert route("How do I change the ISO on the Nikon D3500?", CATALOGUE) == ["manual"]
    assert route("MGM Resorts Q4 2022 revenue", CATALOGUE) == ["mgm"]


def test_a_name_in_the_title_outweighs_words_in_another_document_opening():
    assert route("What was MGM's interest coverage using FY2022 Adjusted EBIT?", CATALOGUE) == ["mgm"]


def test_no_name_no_routing_and_restriction_is_respected():
    assert route("What is the capital expenditure?", CATALOGUE) == []
    assert route("What is Amazon's revenue?", CATALOGUE, restrict=["3m"]) == []


def test_a_name_held_by_many_documents_does_not_route():
    catalogue = {str(i): _entry(f"Report {i}", "Annual Review") for i in range(6)}
    assert route("What does the Annual Review say?", catalogue) == []


def test_a_name_that_starts_a_run_together_title_word_routes():
    """File names run words together: 'MGM' must find 'MGMRESORTS 2022Q4' even when the opening never says 'MGM'."""
    catalogue = {
        "mgm": _entry("MGMRESORTS 2022Q4 EARNINGS", "Fourth quarter and full year results"),
        "amcor": _entry("AMCOR 2023Q4 EARNINGS", "Adjusted EBIT and adjusted EPS grew"),
        "other": _entry("PEPSICO 2022 10K", "Annual report"),
    }
    assert route("What was MGM's interest coverage using FY2022 Adjusted EBIT?", catalogue) == ["mgm"]
    assert route("What was MG's revenue?", catalogue) == []  # too short to match a prefix


def test_a_shouting_question_does_not_route_on_its_emphasis():
    shouted = query_names("TOP security concerns of the DIAGRAM DISCUSSED ABOUT WHICH YEAR?")
    assert shouted.names == set()
    assert query_names("How many times does \"HIT\" appear in the slide?").names == {"hit"}
    assert query_names("What was NVIDIA's revenue in FY2022?").names == {"nvidia"}


def test_a_common_word_opening_unrelated_documents_does_not_route():
    """'Code' and 'Section' open a paper and two filings alike: weighed up, they pushed the right document out."""
    catalogue = {
        "paper": _entry("2303.08559v2", "Source code is available. Section 2 reviews prior work"),
        "atvi": _entry("ACTIVISIONBLIZZARD 2019 10K", "Section 13 of the Securities Exchange Act, Internal Revenue Code"),
        "adbe": _entry("ADOBE 2015 10K", "Section 12(b) of the Act; Code of Conduct"),
        "markets": _entry("8dfc21ec", "Geographic market names by EPS code"),
        **OTHERS,
    }
    assert route("Does Section 3.3 cite more papers than Section 3.1?", catalogue) == []
    assert route("If I want to use the detector in the paper, what is its code?", catalogue) == []


def test_a_name_opening_one_family_of_documents_routes_to_them():
    catalogue = {
        "jnj22": _entry("JOHNSON_JOHNSON 2022 10K", "JnJ annual report"),
        "jnj23": _entry("JOHNSON_JOHNSON 2023Q2 EARNINGS", "JnJ reports second quarter results"),
        "mgm": _entry("MGMRESORTS 2022 10K", "MGM Resorts International"),
        **OTHERS,
    }
    assert sorted(route("Are JnJ's FY2022 financials those of a high growth company?", catalogue)) == ["jnj22"]
    assert sorted(route("What was JnJ's revenue?", catalogue)) == ["jnj22", "jnj23"]


def test_a_period_in_the_title_picks_that_filing():
    """Later filings mention FY2018 as a comparison year; the one whose title says 2018 is the one asked."""
    catalogue = {
        "mgm18": _entry("MGMRESORTS 2018 10K", "MGM Resorts International annual report"),
        "mgm20": _entry("MGMRESORTS 2020 10K", "MGM Resorts International, compared with 2019 and 2018"),
        "mgm22": _entry("MGMRESORTS 2022 10K", "MGM Resorts International, 2021 and 2018"),
        **OTHERS,
    }
    assert route("What is the year end FY2018 amount of accounts payable for MGM Resorts?", catalogue) == ["mgm18"]
