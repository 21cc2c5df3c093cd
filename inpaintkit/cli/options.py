"""Flags shared by the batch commands: where the work runs (``--engine``, ``--jobs``, ``--ray-address``)."""

from __future__ import annotations

import typer

from ..engine import ENGINES, EngineOptions


def engine_option():
    return typer.Option(
        "local",
        "--engine",
        help=f"Where the work runs: {'|'.join(ENGINES)} (ray: `pip install "
        "'inpaintkit[distributed]'`; see docs/cluster.md).",
    )


def jobs_option(what: str = "images in parallel"):
    return typer.Option(
        None,
        "--jobs",
        "-j",
        help=f"Workers ({what}). local: processes on this machine (default 1, "
        "in this process); ray: Ray workers (default one per CPU of the cluster).",
    )


def ray_address_option():
    return typer.Option(
        None,
        "--ray-address",
        help="With --engine ray: 'auto' joins the cluster this node belongs "
        "to, HOST:PORT joins that head node; default: start a local Ray on this machine.",
    )


def engine_options(engine: str, jobs: int | None, ray_address: str | None) -> EngineOptions:
    """The checked ``EngineOptions`` of the flags (an unknown engine or a missing Ray is a one-line error)."""
    opts = EngineOptions(engine, jobs, ray_address)
    opts.check()
    if opts.kind == "ray":
        from ..engine import check_ray

        check_ray(opts.address)
    return opts
