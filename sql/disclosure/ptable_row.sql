-- The ptable row (pcv) of a cell's count: the count itself up to the table's last row, and above it one of the last
-- `repeat_period` rows, in turn. One definition for the published cells (perturbed_counts.sql) and the query
-- service's (service/table_cells.sql), so that both perturb a cell alike.
CREATE OR REPLACE TEMP MACRO ptable_row(registrations, max_pcv, repeat_period) AS
    CASE WHEN registrations <= max_pcv THEN registrations
         ELSE (registrations - (max_pcv - repeat_period + 1)) % repeat_period + (max_pcv - repeat_period + 1)
    END
