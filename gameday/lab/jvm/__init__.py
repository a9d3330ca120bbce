"""The lab's JVM services: their jars from Maven Central (`maven`, with the poms in `poms/`)."""
