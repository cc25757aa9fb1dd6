-- The numbers a model card was rendered from, so a cycle report can draw the same metrics and calibration
-- without parsing the card's HTML. Cards written before this column have it NULL.
ALTER TABLE model_cards ADD COLUMN input jsonb;
