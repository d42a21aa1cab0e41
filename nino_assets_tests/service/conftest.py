import pytest

from nino_assets_tests.support.service_world import World, build_world


@pytest.fixture(scope="package")
def world(tmp_path_factory) -> World:
    """The service tests' released cube, built once for the API's tests and the table builder's."""
    return build_world(tmp_path_factory.mktemp("service"))
