"""A policy's own PromQL reads only its own namespace.

Every series selector of the query must carry ``namespace="<the policy's namespace>"`` (in every
``or`` branch of it); a query that does not is refused before it is sent, with the selector named.
Refusing, rather than rewriting the query the way prom-label-proxy injects a matcher, leaves the
query exactly as its author wrote it, so what runs is what is in Git.
"""

from __future__ import annotations

import promql_parser
from promql_parser import MatchOp, VectorSelector

__all__ = ["namespace_problem"]


def namespace_problem(query: str, namespace: str) -> str | None:
    """None when every selector of ``query`` pins ``namespace``; else why not, in a sentence.
    A query that does not parse is left to Prometheus, which says what is wrong with it."""
    try:
        expression = promql_parser.parse(query)
    except ValueError:
        return None
    loose: list[str] = []

    def visit(node: object) -> None:
        if isinstance(node, VectorSelector):
            branches = node.matchers.or_matchers or [node.matchers.matchers]
            pinned = all(
                any(m.name == "namespace" and m.op == MatchOp.Equal and m.value == namespace for m in branch)
                for branch in branches
            )
            if not pinned:
                loose.append(node.name or "{...}")

    promql_parser.walk(expression, visit)
    if not loose:
        return None
    selectors = ", ".join(dict.fromkeys(loose))
    example = f'sum(rate(http_requests_total{{namespace="{namespace}",app="web"}}[2m]))'
    return (
        f'selector {selectors} does not carry namespace="{namespace}"; a policy\'s query reads only '
        f"its own namespace, so write every selector with it, e.g. {example}"
    )
