DROP TABLE artifact_uploads;
