"""A template cluster's readable form (detectors/linking/template_form.py)."""

from detectors.linking.template_form import MAX_ADS, Slot, forms_by_template, template_form

ADS = [
    "New in Reno this week!! Sweet and discreet, call 775-555-0101 for rates. No police.",
    "New in Elko this week!! Sweet and discreet, call 775-555-0199 for rates. No police.",
    "New in Vegas this week! Sweet and discreet, call 702-555-0101 for specials. No police.",
    "New in Reno this week!! Sweet and discreet, call 775-555-0101 for rates. No police. Ask for Tina.",
]


def test_the_shared_words_are_fixed_and_each_difference_is_a_slot_with_its_values():
    form = template_form(ADS)
    assert form.ads == 4
    assert form.render() == ("New in [Reno | Elko | Vegas] this week!! Sweet and discreet, call "
                             "[775-555-0101 | 775-555-0199 | 702-555-0101] for [rates | specials]. "
                             "No police. [– | Ask for Tina.]")
    city, phone, word, tail = form.slots
    assert city == Slot(values=("Reno", "Elko", "Vegas"), distinct=3, ads=4)
    assert phone.values[0] == "775-555-0101" and phone.distinct == 3
    assert tail.values == ("", "Ask for Tina.")  # three ads end without it
    record = form.as_record()
    assert record["text"] == form.render() and record["slots"][0]["values"] == ["Reno", "Elko", "Vegas"]


def test_punctuation_alone_never_makes_a_slot():
    form = template_form(["Call me now!", "Call me now!!!", "Call me now."])
    assert form.slots == [] and form.fixed_share() == 1.0
    assert form.render() == "Call me now!"


def test_identical_ads_are_all_fixed_and_unrelated_ads_are_all_slot():
    same = template_form(["Two rooms, one bath.", "Two rooms, one bath."])
    assert same.render() == "Two rooms, one bath." and same.slots == []
    apart = template_form(["Fresh cherries by the pound", "Tutoring in algebra after school"])
    assert len(apart.slots) == 1 and apart.fixed_share() == 0.0


def test_a_word_most_ads_share_is_fixed_even_if_one_ad_lacks_it():
    ads = [f"Hello gents, I am {name}, 22, text me" for name in ("Ana", "Bea", "Cat", "Dee", "Eve")]
    ads.append("Hello, I am Fay, 22, text me")  # 5 of the 6 say "gents": 4 of the 5 others
    form = template_form(ads)
    assert form.render() == "Hello gents, I am [Ana | Bea | Cat +3], 22, text me"
    assert form.slots[0].distinct == 6  # Fay's name is there too
    assert template_form(ads[:3] + ["Hello, I am Fay, 22, text me"] * 3).render().startswith("Hello [")


def test_fewer_than_two_ads_have_no_form_and_only_shared_templates_are_listed():
    assert template_form(["only one ad"]) is None and template_form(["", "   "]) is None
    forms = forms_by_template([("t1", "a b c"), (None, "x"), ("t2", "solo"), ("t1", "a b d"), ("t3", "p q"),
                               ("t3", "p r"), ("t3", "p s")])
    assert [t for t, _ in forms] == ["t3", "t1"]  # most ads first; t2 has one ad
    assert forms[0][1].render() == "p [q | r | s]"


def test_only_the_newest_ads_are_aligned():
    ads = [f"ad number {i} says hello" for i in range(MAX_ADS + 10)]
    assert template_form(ads).ads == MAX_ADS
