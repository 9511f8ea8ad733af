"""Checkpoint resolution: explicit path, search dirs, cache, download with checksum, errors."""

import hashlib
from pathlib import Path

import pytest

from seg_perception.weights import resolve_weights, WeightsError, WeightsSpec


def _spec(tmp_path: Path, content: bytes = b'checkpoint bytes', sha: str = None) -> WeightsSpec:
    source = tmp_path / 'published' / 'model.pth'
    source.parent.mkdir()
    source.write_bytes(content)
    return WeightsSpec('model.pth', sha or hashlib.sha256(content).hexdigest(), source.as_uri())


def test_explicit_path_wins_and_missing_explicit_path_is_an_error(tmp_path):
    own = tmp_path / 'mine.pth'
    own.write_bytes(b'x')
    spec = _spec(tmp_path)
    assert resolve_weights(spec, explicit_path=str(own), cache_dir=tmp_path / 'c') == own
    with pytest.raises(WeightsError, match='does not exist'):
        resolve_weights(spec, explicit_path=str(tmp_path / 'nope.pth'))


def test_search_dirs_come_before_the_cache(tmp_path):
    spec = _spec(tmp_path)
    search, cache = tmp_path / 'search', tmp_path / 'cache'
    search.mkdir()
    cache.mkdir()
    (search / 'model.pth').write_bytes(b'a')
    (cache / 'model.pth').write_bytes(b'b')
    assert resolve_weights(spec, search_dirs=[str(search)], cache_dir=cache) == \
        search / 'model.pth'
    assert resolve_weights(spec, search_dirs=[str(tmp_path / 'empty')], cache_dir=cache) == \
        cache / 'model.pth'


def test_download_goes_to_the_cache_once_checksum_matches(tmp_path):
    spec = _spec(tmp_path)
    cache = tmp_path / 'cache'
    path = resolve_weights(spec, cache_dir=cache)
    assert path == cache / 'model.pth'
    assert path.read_bytes() == b'checkpoint bytes'
    assert list(cache.iterdir()) == [path]


def test_download_with_wrong_checksum_is_discarded(tmp_path):
    spec = _spec(tmp_path, sha='0' * 64)
    cache = tmp_path / 'cache'
    with pytest.raises(WeightsError, match='expected 0000'):
        resolve_weights(spec, cache_dir=cache)
    assert list(cache.iterdir()) == []


def test_offline_error_says_which_file_to_put_where(tmp_path):
    spec = WeightsSpec('model.pth', 'ab' * 32, (tmp_path / 'unreachable.pth').as_uri())
    cache = tmp_path / 'cache'
    with pytest.raises(WeightsError) as error:
        resolve_weights(spec, search_dirs=[str(tmp_path / 'dir')], cache_dir=cache)
    message = str(error.value)
    assert 'model.pth' in message and str(cache / 'model.pth') in message
    assert 'weights_path' in message and 'ab' * 32 in message
    with pytest.raises(WeightsError, match='downloading is off'):
        resolve_weights(spec, cache_dir=cache, allow_download=False)


def test_a_weights_dir_value_is_split_at_colons_without_empty_parts():
    from seg_perception.weights import split_weights_dirs
    assert split_weights_dirs('a/b::/c/d:') == ('a/b', '/c/d')
    assert split_weights_dirs('') == ()
