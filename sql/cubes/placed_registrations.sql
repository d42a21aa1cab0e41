-- Placed registrations: each counted registration of some quarters, as stat.registrations holds it, with the local
-- authority (or Overseas or Unknown) stat.geocoded_registrations places it in: the records the finest cells count
-- (finest_cells.sql) and the disclosure check recounts cells from. A temporary macro: each connection defines it.
--   quarters: a list of quarter labels. A registration's scan quarter is its registration quarter, so both sides
--   read only these quarters.
CREATE OR REPLACE TEMP MACRO placed_registrations(quarters) AS TABLE
SELECT registrations.*, places.lad_code
FROM stat.registrations
JOIN stat.geocoded_registrations AS places USING (scan_quarter, line_number)
WHERE registrations.scan_quarter = ANY(quarters) AND places.scan_quarter = ANY(quarters)
