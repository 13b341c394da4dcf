"""dagster-webserver serves workspace.yaml's code location over GraphQL."""

from pipelines.definitions import defs as load_defs
from pipelines_tests.support.dagster_instance import (
    free_port,
    graphql,
    group_alive,
    running,
    wait_for_webserver,
    webserver_args,
)

defs = load_defs()


def test_webserver_serves_the_asset_nodes_over_graphql(tmp_path):
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    home = tmp_path / "dagster_home"
    home.mkdir()
    with running("webserver", webserver_args(port), {"DAGSTER_HOME": str(home)}, tmp_path) as web:
        wait_for_webserver(web, base_url)
        data = graphql(base_url, "{ assetNodes { assetKey { path } groupName } }")
        pgid = web.process.pid
    served = {"/".join(node["assetKey"]["path"]) for node in data["assetNodes"]}
    assert served == {key.to_user_string() for key in defs.resolve_all_asset_keys()}
    assert served  # the code location is not empty
    assert not group_alive(pgid)
