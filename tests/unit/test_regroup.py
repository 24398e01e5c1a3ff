"""Regrouping a cluster after an erasure: what remains links as before, bridges that are gone split it."""

from detectors.linking.regroup import regroup


def test_an_ad_that_bridged_two_identifiers_splits_the_cluster_when_forgotten():
    # a1 and a2 share phone P; a2 and a3 share email E; a2 is forgotten
    groups = regroup({"ad:a1", "ad:a3"}, {"phone:P": {"a1": 1.0}, "email:E": {"a3": 3.0}}, old_root="phone:P")
    assert [(g.root, g.nodes, g.ads) for g in groups] == [
        ("email:E", ["ad:a3", "email:E"], [("a3", 3.0)]),
        ("phone:P", ["ad:a1", "phone:P"], [("a1", 1.0)])]


def test_what_is_still_linked_stays_one_cluster_with_its_root():
    groups = regroup({"ad:a1", "ad:a2", "ad:a3"},
                     {"phone:P": {"a1": 1.0, "a2": 2.0}, "email:E": {"a2": 2.0, "a3": 5.0}}, old_root="email:E")
    assert len(groups) == 1
    assert groups[0].root == "email:E" and [a for a, _ in groups[0].ads] == ["a1", "a2", "a3"]


def test_identifiers_left_without_ads_are_dropped_and_lone_ads_stand_alone():
    groups = regroup({"ad:a1"}, {"phone:P": {}, "email:E": {"gone": 1.0}}, old_root="phone:P")
    assert [(g.root, g.nodes) for g in groups] == [("ad:a1", ["ad:a1"])]
