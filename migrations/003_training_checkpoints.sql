-- Trees of a forest in training, saved as they are built. A forest can be megabytes, too big for a
-- heartbeat; the heartbeat carries only how many trees are here, and a retry loads them back.
CREATE TABLE training_checkpoints (
  checkpoint_key text NOT NULL,
  tree_index     integer NOT NULL,
  tree           jsonb NOT NULL,
  PRIMARY KEY (checkpoint_key, tree_index)
);
