-- Content-addressed bytes: ONNX model files (a version's artifact names one by sha256), training sets
-- handed to the Python training worker, and its warm-start checkpoints. A blob is never changed:
-- writing the same bytes again is a no-op, so every writer is safe to run twice.
CREATE TABLE model_blobs (
  sha256      text PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  media_type  text NOT NULL,
  size_bytes  integer NOT NULL CHECK (size_bytes >= 0),
  bytes       bytea NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);
