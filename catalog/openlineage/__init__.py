"""OpenLineage events for what the catalog records: model builds and deployments (``events``), with mlcatalog's
own facets (``facets``). Building them is pure; sending them is the composition root's (``mlcatalog.openlineage``)."""

from catalog.openlineage.events import (
    PRODUCER,
    Naming,
    build_event,
    build_events,
    deployment_event,
    from_dict,
    run_id,
    to_dict,
)
from catalog.openlineage.facets import FACET_SCHEMAS

__all__ = ["FACET_SCHEMAS", "PRODUCER", "Naming", "build_event", "build_events", "deployment_event", "from_dict",
           "run_id", "to_dict"]
