import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from geoveilig.areas import fetch_pdok, load_areas, parse_pdok, save_areas
from geoveilig.errors import AreaError
from geoveilig.spatial import PolygonIndex
from tests.pdok_fake import FakePdok, wfs_response


def test_helmond_loads_with_codes_and_warnings(areas):
    assert areas.gemeente_code == "GM0794"
    assert areas.gemeente_name == "Helmond"
    assert len(areas.wijken) == 12
    assert len(areas.buurten) == 44
    assert areas.year == 2017
    assert areas.buurten.crs.to_epsg() == 28992
    assert set(areas.buurten["wijk_code"]) == set(areas.wijken["code"])
    assert areas.buurten.loc[areas.buurten.code == "BU07941006", "name"].item() == \
        "Annabuurt en Suytkade"
    # the layers are generalised independently: the mismatch is reported with its size
    text = " ".join(areas.warnings)
    assert "2.83 km²" in text
    assert "BU07941002 45%" in text


def _cbs_layers(areas):
    gm = areas.gemeente.rename(columns={"code": "GM_CODE", "name": "GM_NAAM"})
    wk = areas.wijken.drop(columns="gemeente_code").rename(
        columns={"code": "WK_CODE", "name": "WK_NAAM"})
    bu = areas.buurten.drop(columns=["gemeente_code", "wijk_code"]).rename(
        columns={"code": "BU_CODE", "name": "BU_NAAM"})
    return gm, wk, bu


def test_geopackage_with_cbs_attribute_names(areas, tmp_path):
    gm, wk, bu = _cbs_layers(areas)
    path = tmp_path / "wijkbuurtkaart_2017.gpkg"
    gm.to_file(path, layer="gemeente_2017", driver="GPKG")
    wk.to_file(path, layer="wijk_2017", driver="GPKG")
    bu.to_crs(4326).to_file(path, layer="buurt_2017", driver="GPKG")  # reprojected on load
    loaded = load_areas(path)
    assert list(loaded.buurten["code"]) == list(areas.buurten["code"])
    assert loaded.buurten.crs.to_epsg() == 28992
    assert loaded.year == 2017
    assert abs(loaded.buurten.area.sum() - areas.buurten.area.sum()) < 1.0


def test_national_file_is_filtered_by_gemeente(areas, tmp_path):
    other = areas.buurten.iloc[:1].copy()
    other["code"] = "BU03630000"
    other["wijk_code"] = "WK036300"
    bu = gpd.GeoDataFrame(
        gpd.pd.concat([areas.buurten, other]), crs=areas.buurten.crs)[["code", "name", "geometry"]]
    bu.to_file(tmp_path / "buurten.geojson")
    areas.wijken[["code", "name", "geometry"]].to_file(tmp_path / "wijken.geojson")
    areas.gemeente.to_file(tmp_path / "gemeente.geojson")
    with pytest.raises(AreaError, match="horen niet bij GM0794"):
        load_areas(tmp_path)
    assert len(load_areas(tmp_path, gemeente="GM0794").buurten) == 44


def test_validation_lists_every_problem(areas, tmp_path):
    bu = areas.buurten[["code", "name", "geometry"]].copy()
    bu.loc[0, "code"] = "BU0794XX00"
    bu.loc[1, "code"] = "BU07949900"  # wijk 99 does not exist
    bow = shapely.Polygon([(0, 0), (10, 10), (10, 0), (0, 10), (0, 0)])
    bu.loc[2, "geometry"] = bow
    bu.to_file(tmp_path / "buurten.geojson")
    areas.wijken[["code", "name", "geometry"]].to_file(tmp_path / "wijken.geojson")
    areas.gemeente.to_file(tmp_path / "gemeente.geojson")
    with pytest.raises(AreaError) as err:
        load_areas(tmp_path)
    msg = str(err.value)
    assert "ongeldige CBS-code(s) BU0794XX00" in msg
    assert "ongeldige geometrie bij BU07941003: Self-intersection" in msg


def test_orphan_buurt_and_missing_layer(areas, tmp_path):
    bu = areas.buurten[["code", "name", "geometry"]].copy()
    bu.loc[0, "code"] = "BU07949900"
    bu.to_file(tmp_path / "buurten.geojson")
    with pytest.raises(AreaError, match="onvolledig: geen bestand of laag voor gemeente, wijk"):
        load_areas(tmp_path)
    areas.wijken[["code", "name", "geometry"]].to_file(tmp_path / "wijken.geojson")
    areas.gemeente.to_file(tmp_path / "gemeente.geojson")
    with pytest.raises(AreaError, match="onbekende wijk: BU07949900"):
        load_areas(tmp_path)
    with pytest.raises(AreaError, match="bestaat niet"):
        load_areas(tmp_path / "nope")


def test_point_on_shared_border_goes_to_one_buurt(areas):
    b = areas.buurten
    tree = shapely.STRtree(b.geometry.values)
    left, right = tree.query(b.geometry.values, predicate="touches")
    pairs = [(i, j) for i, j in zip(left, right, strict=True) if i < j
             and b.geometry.iloc[i].boundary.intersection(b.geometry.iloc[j].boundary).length
             > 10]
    assert pairs, "Helmond has neighbouring buurten with a shared edge"
    for i, j in pairs:
        # a vertex both polygons share (integer RD coordinates: exactly on both boundaries)
        vi = {tuple(c) for c in shapely.get_coordinates(b.geometry.iloc[i])}
        vj = {tuple(c) for c in shapely.get_coordinates(b.geometry.iloc[j])}
        common = sorted(vi & vj)
        assert common
        pt = shapely.Point(common[0])
        assert b.geometry.iloc[i].intersects(pt) and b.geometry.iloc[j].intersects(pt)
        owners = b.loc[b.geometry.intersects(pt)]
        got = areas.assign(np.array([pt.x]), np.array([pt.y]))
        assert got["buurt_code"].item() == owners["code"].min()  # the lowest code wins
        assert got["wijk_code"].item() == owners["wijk_code"].iloc[0]


def test_point_just_outside_the_gemeente_is_in_no_buurt(areas):
    union = shapely.union_all(areas.buurten.geometry.values)
    xmin = union.bounds[0]
    # the westernmost vertex, then 1 m further west
    coords = shapely.get_coordinates(union.exterior)
    west = coords[np.argmin(coords[:, 0])]
    got = areas.assign(np.array([west[0] - 1.0, west[0] + 0.0]), np.array([west[1], west[1]]))
    assert pd.isna(got["buurt_code"].iloc[0])
    assert got["buurt_code"].iloc[1].startswith("BU0794")  # on the outline counts as inside
    assert xmin == west[0]


def _sjoin_reference(polys, x, y):
    pts = gpd.GeoDataFrame(geometry=gpd.points_from_xy(x, y), crs=polys.crs)
    j = gpd.sjoin(pts, polys[["geometry"]].reset_index(drop=True), predicate="intersects",
                  how="left").reset_index()
    j = j.sort_values(["index", "index_right"]).drop_duplicates("index")
    return j["index_right"].fillna(-1).astype(int).to_numpy()


def test_polygon_index_equals_sjoin_on_helmond(areas):
    rng = np.random.default_rng(1)
    x0, y0, x1, y1 = areas.buurten.total_bounds
    x = rng.uniform(x0 - 300, x1 + 300, 200_000)
    y = rng.uniform(y0 - 300, y1 + 300, 200_000)
    # and every buurt vertex exactly (points on boundaries)
    v = shapely.get_coordinates(areas.buurten.geometry.values)
    x, y = np.concatenate([x, v[:, 0]]), np.concatenate([y, v[:, 1]])
    got = PolygonIndex(areas.buurten.geometry.values).lookup(x, y)
    np.testing.assert_array_equal(got, _sjoin_reference(areas.buurten, x, y))


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), n_polys=st.integers(1, 60),
       cell=st.one_of(st.none(), st.floats(0.5, 200)))
def test_polygon_index_equals_sjoin_on_random_voronoi(seed, n_polys, cell):
    rng = np.random.default_rng(seed)
    pts = shapely.multipoints(rng.uniform(0, 1000, (n_polys + 2, 2)))
    box = shapely.box(0, 0, 1000, 1000)
    cells = shapely.get_parts(shapely.voronoi_polygons(pts, extend_to=box))
    cells = shapely.intersection(cells, box)
    cells = cells[~shapely.is_empty(cells)]
    # drop one cell to make a hole, densify for many vertices
    cells = shapely.segmentize(np.delete(cells, 0), 37.0)
    polys = gpd.GeoDataFrame(geometry=cells, crs=28992)
    x = rng.uniform(-50, 1050, 3000)
    y = rng.uniform(-50, 1050, 3000)
    got = PolygonIndex(cells, cell_size=cell).lookup(x, y)
    np.testing.assert_array_equal(got, _sjoin_reference(polys, x, y))


def test_nan_and_far_points(areas):
    got = areas.buurt_index.lookup(np.array([np.nan, 1e9, -1e9]), np.array([388000, np.nan, 0]))
    assert (got == -1).all()


def test_parse_pdok_response(areas):
    gdf = parse_pdok(json.dumps(wfs_response(areas.buurten, "buurt")), "buurt")
    assert list(gdf["code"]) == list(areas.buurten["code"])
    assert (gdf["inhabitants"] == 1000).all()
    assert gdf["dwellings"].isna().all()  # negative CBS values are not numbers
    with pytest.raises(AreaError, match="geen geldige JSON"):
        parse_pdok(b"<html>", "buurt")


def test_fetch_pdok_from_a_local_server(areas, tmp_path):
    with FakePdok(areas) as pdok:
        fetched = fetch_pdok("GM0794", 2017, pdok.url)
    assert [q["typeNames"] for q in pdok.requests] == [
        ["wijkenbuurten2017:gemeenten2017"], ["wijkenbuurten2017:cbs_wijken_2017"],
        ["wijkenbuurten2017:cbs_buurten_2017"]]
    assert all(q["CQL_FILTER"] == ["gemeentecode='GM0794'"] for q in pdok.requests)
    assert len(fetched.buurten) == 44 and len(fetched.wijken) == 12
    paths = save_areas(fetched, tmp_path / "geo")
    again = load_areas(tmp_path / "geo")
    assert [p.name for p in paths] == ["gm0794_gemeente_2017.geojson",
                                       "gm0794_wijken_2017.geojson",
                                       "gm0794_buurten_2017.geojson"]
    assert list(again.buurten["code"]) == list(areas.buurten["code"])
    with pytest.raises(AreaError, match="PDOK niet bereikbaar"):
        fetch_pdok("GM0794", 2017, "http://127.0.0.1:9/nothing")


@pytest.mark.parametrize("where", ["inside", "mixed", "outside", "nan", "none"])
def test_assign_columns_as_from_object_arrays(areas, where):
    """``assign`` takes the codes with Arrow; the frame is the one the object arrays of codes
    and None gave: ``str`` columns, or object when no point is in a buurt."""
    inside_x, inside_y = 173624.5, 388270.2
    x, y = {"inside": ([inside_x] * 3, [inside_y] * 3),
            "mixed": ([inside_x, 0.0, np.nan, 173949.0], [inside_y, 0.0, np.nan, 386938.0]),
            "outside": ([0.0, 1.0], [0.0, 1.0]),
            "nan": ([np.nan], [np.nan]),
            "none": ([], [])}[where]
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    idx = areas.buurt_index.lookup(x, y)
    codes = np.append(areas.buurten["code"].to_numpy(dtype=object), None)
    wijk = np.append(areas.buurten["wijk_code"].to_numpy(dtype=object), None)
    expected = pd.DataFrame({"buurt_code": codes[idx], "wijk_code": wijk[idx]})
    pd.testing.assert_frame_equal(areas.assign(x, y), expected)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 40), st.integers(1, 40), st.floats(0.0, 1.0), st.integers(0, 2**32 - 1))
def test_regions_are_labelled_as_scipy_labels_them(ny, nx, share, seed):
    """``label_regions`` gives ``scipy.ndimage.label``'s labels (4-connected, numbered by
    first cell) in numpy, and through scipy itself for large rasters."""
    from scipy import ndimage

    from geoveilig import spatial

    mask = np.random.default_rng(seed).random((ny, nx)) < share
    expected, n = ndimage.label(mask)
    got, k = spatial.label_regions(mask)
    assert k == n and np.array_equal(got, expected)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(spatial, "NUMPY_LABEL_CELLS", 0)
        got, k = spatial.label_regions(mask)
    assert k == n and np.array_equal(got, expected)


def test_a_winding_region_is_one_region():
    """A region that winds back and forth through every row (the longest chain of runs)."""
    from geoveilig.spatial import label_regions

    mask = np.zeros((41, 30), dtype=bool)
    mask[::2] = True
    for row in range(1, 41, 2):
        mask[row, 29 if row % 4 == 1 else 0] = True
    labels, n = label_regions(mask)
    assert n == 1 and (labels[mask] == 1).all() and (labels[~mask] == 0).all()
    mask[20, 5] = False  # cut in two
    assert label_regions(mask)[1] == 2


@settings(max_examples=80, deadline=None)
@given(st.integers(0, 60), st.lists(st.tuples(st.integers(0, 59), st.integers(0, 59)),
                                    max_size=80))
def test_components_are_numbered_as_scipy_numbers_them(n, edges):
    """``spatial.connected`` gives the components of ``scipy.sparse.csgraph`` (undirected),
    numbered alike (by their smallest node)."""
    from scipy import sparse
    from scipy.sparse.csgraph import connected_components

    from geoveilig.spatial import connected

    edges = [(a, b) for a, b in edges if a < n and b < n]
    a = np.array([e[0] for e in edges], dtype=np.int64)
    b = np.array([e[1] for e in edges], dtype=np.int64)
    k, labels = connected(n, a, b)
    if n == 0:
        assert k == 0 and len(labels) == 0
        return
    graph = sparse.csr_matrix((np.ones(len(a)), (a, b)), shape=(n, n))
    expected_k, expected = connected_components(graph, directed=False)
    assert k == expected_k and np.array_equal(labels, expected)
