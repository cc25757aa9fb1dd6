-- A champion taken back by `remedy revert`: the version it replaced serves again and this one is marked
-- 'reverted' (with who, why and when in its evidence). A reverted version was champion once, so a later
-- revert may bring it back.
ALTER TABLE model_versions DROP CONSTRAINT model_versions_status_check;
ALTER TABLE model_versions ADD CONSTRAINT model_versions_status_check
  CHECK (status IN ('champion', 'candidate', 'retired', 'rejected', 'rolled_back', 'reverted'));
