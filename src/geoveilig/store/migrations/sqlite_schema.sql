-- revision: 0016
-- The SQLite schema the migrations build, for new stores; written by 'python -m geoveilig.store.snapshot' (do not edit).

CREATE TABLE alembic_version (
	version_num VARCHAR(32) NOT NULL, 
	CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)
);

CREATE TABLE import_batches (
	id INTEGER NOT NULL, 
	kind VARCHAR(32) NOT NULL, 
	imported_at BIGINT NOT NULL, 
	source_name TEXT NOT NULL, 
	content_sha256 VARCHAR(64) NOT NULL, 
	n_rows INTEGER NOT NULL, 
	accepted INTEGER NOT NULL, 
	rejected INTEGER NOT NULL, 
	already_present INTEGER NOT NULL, 
	synthetic INTEGER NOT NULL, 
	CONSTRAINT pk_import_batches PRIMARY KEY (id)
);

CREATE TABLE audit_log (
	id INTEGER NOT NULL, 
	at BIGINT NOT NULL, 
	actor VARCHAR(128) NOT NULL, 
	action VARCHAR(64) NOT NULL, 
	target VARCHAR(128), 
	detail TEXT, 
	CONSTRAINT pk_audit_log PRIMARY KEY (id)
);

CREATE TABLE prevention_groups (
	id INTEGER NOT NULL, 
	group_id VARCHAR(64) NOT NULL, 
	type VARCHAR(32) NOT NULL, 
	label TEXT, 
	team_id VARCHAR(64), 
	area_kind VARCHAR(16) NOT NULL, 
	buurten TEXT, 
	geometry_wkb BLOB, 
	postcodes TEXT, 
	members INTEGER, 
	synthetic INTEGER NOT NULL, 
	updated_at BIGINT NOT NULL, 
	CONSTRAINT pk_prevention_groups PRIMARY KEY (id), 
	CONSTRAINT uq_prevention_groups_group_id UNIQUE (group_id), 
	CONSTRAINT fk_prevention_groups_team_id_prevention_groups FOREIGN KEY(team_id) REFERENCES prevention_groups (group_id) ON DELETE SET NULL
);

CREATE TABLE prevention_status (
	id INTEGER NOT NULL, 
	group_id VARCHAR(64) NOT NULL, 
	status VARCHAR(16) NOT NULL, 
	since DATE NOT NULL, 
	CONSTRAINT pk_prevention_status PRIMARY KEY (id), 
	CONSTRAINT uq_prevention_status_group_id_since UNIQUE (group_id, since), 
	CONSTRAINT fk_prevention_status_group_id_prevention_groups FOREIGN KEY(group_id) REFERENCES prevention_groups (group_id) ON DELETE CASCADE
);

CREATE INDEX ix_prevention_status_since ON prevention_status (since);

CREATE TABLE api_keys (
	id INTEGER NOT NULL, 
	key_id VARCHAR(16) NOT NULL, 
	name VARCHAR(128) NOT NULL, 
	role VARCHAR(16) NOT NULL, 
	salt VARCHAR(32) NOT NULL, 
	key_hash VARCHAR(64) NOT NULL, 
	created_at BIGINT NOT NULL, 
	revoked_at BIGINT, gemeente VARCHAR(256), 
	CONSTRAINT pk_api_keys PRIMARY KEY (id), 
	CONSTRAINT uq_api_keys_key_id UNIQUE (key_id)
);

CREATE TABLE incident_chunks (
	id INTEGER NOT NULL, 
	n_rows INTEGER NOT NULL, 
	id_min BIGINT NOT NULL, 
	id_max BIGINT NOT NULL, 
	t_min BIGINT NOT NULL, 
	t_max BIGINT NOT NULL, 
	x_min FLOAT NOT NULL, 
	y_min FLOAT NOT NULL, 
	x_max FLOAT NOT NULL, 
	y_max FLOAT NOT NULL, 
	crime_types TEXT NOT NULL, 
	wijk_codes TEXT NOT NULL, 
	buurt_codes TEXT NOT NULL, 
	data BLOB NOT NULL, 
	CONSTRAINT pk_incident_chunks PRIMARY KEY (id)
);

CREATE TABLE incident_history (
	id INTEGER NOT NULL, 
	incident_id VARCHAR(64) NOT NULL, 
	action VARCHAR(16) NOT NULL, 
	changed_at BIGINT NOT NULL, 
	actor VARCHAR(128) NOT NULL, 
	batch_id INTEGER NOT NULL, 
	changes TEXT NOT NULL, 
	crime_type VARCHAR(40) NOT NULL, 
	occurred_at BIGINT NOT NULL, 
	occurred_from BIGINT, 
	occurred_to BIGINT, 
	x FLOAT NOT NULL, 
	y FLOAT NOT NULL, 
	buurt_code VARCHAR(10), 
	wijk_code VARCHAR(8), 
	address TEXT, 
	content_hash BIGINT NOT NULL, 
	previous_batch_id INTEGER NOT NULL, 
	CONSTRAINT pk_incident_history PRIMARY KEY (id), 
	CONSTRAINT fk_incident_history_batch_id_import_batches FOREIGN KEY(batch_id) REFERENCES import_batches (id)
);

CREATE INDEX ix_incident_history_incident_id ON incident_history (incident_id);

CREATE TABLE plans (
	id INTEGER NOT NULL, 
	kind VARCHAR(32) NOT NULL, 
	params TEXT NOT NULL, 
	data_version TEXT, 
	role VARCHAR(16) NOT NULL, 
	key_id VARCHAR(32), 
	actor VARCHAR(128) NOT NULL, 
	created_at BIGINT NOT NULL, 
	objective FLOAT NOT NULL, 
	objective_unit TEXT NOT NULL, 
	bound FLOAT, 
	gap FLOAT, 
	proven INTEGER NOT NULL, 
	solver VARCHAR(64), 
	status TEXT, 
	total_risk FLOAT, 
	summary TEXT NOT NULL, 
	notes TEXT NOT NULL, 
	CONSTRAINT pk_plans PRIMARY KEY (id)
);

CREATE INDEX ix_plans_kind_created_at ON plans (kind, created_at);

CREATE TABLE plan_sites (
	plan_id INTEGER NOT NULL, 
	seq INTEGER NOT NULL, 
	rank INTEGER NOT NULL, 
	status VARCHAR(16) NOT NULL, 
	x FLOAT NOT NULL, 
	y FLOAT NOT NULL, 
	expected_covered FLOAT, 
	properties TEXT NOT NULL, 
	CONSTRAINT pk_plan_sites PRIMARY KEY (plan_id, seq), 
	CONSTRAINT fk_plan_sites_plan_id_plans FOREIGN KEY(plan_id) REFERENCES plans (id) ON DELETE CASCADE
);

CREATE TABLE "deployments" (
	id INTEGER NOT NULL, 
	kind VARCHAR(32) NOT NULL, 
	label TEXT NOT NULL, 
	x FLOAT NOT NULL, 
	y FLOAT NOT NULL, 
	radius_m FLOAT, 
	area_wkt TEXT, 
	buurt_code VARCHAR(10), 
	wijk_code VARCHAR(8), 
	start_at BIGINT, 
	end_at BIGINT, 
	units INTEGER NOT NULL, 
	approximate INTEGER NOT NULL, 
	synthetic INTEGER NOT NULL, 
	source TEXT, 
	note TEXT, 
	created_at BIGINT NOT NULL, 
	status VARCHAR(16) DEFAULT 'geplaatst' NOT NULL, 
	planned_start_at BIGINT, 
	planned_end_at BIGINT, 
	plan_id INTEGER, 
	plan_rank INTEGER, 
	updated_at BIGINT, 
	revision INTEGER DEFAULT '0' NOT NULL, 
	CONSTRAINT pk_deployments PRIMARY KEY (id), 
	CONSTRAINT fk_deployments_plan_id_plans FOREIGN KEY(plan_id) REFERENCES plans (id)
);

CREATE INDEX ix_deployments_kind_start_at ON deployments (kind, start_at);

CREATE INDEX ix_deployments_status ON deployments (status);

CREATE TABLE published_counts (
	id INTEGER NOT NULL, 
	source VARCHAR(40) NOT NULL, 
	table_id VARCHAR(16) NOT NULL, 
	area_code VARCHAR(10) NOT NULL, 
	area_level VARCHAR(10) NOT NULL, 
	year INTEGER NOT NULL, 
	month INTEGER NOT NULL, 
	crime_class VARCHAR(16) NOT NULL, 
	crime_label TEXT NOT NULL, 
	count INTEGER, 
	retrieved_at BIGINT NOT NULL, 
	synthetic INTEGER DEFAULT '0' NOT NULL, 
	CONSTRAINT pk_published_counts PRIMARY KEY (id), 
	CONSTRAINT uq_published_counts_table_id_area_code_year_month_crime_class UNIQUE (table_id, area_code, year, month, crime_class)
);

CREATE TABLE area_figures (
	id INTEGER NOT NULL, 
	source VARCHAR(40) NOT NULL, 
	table_id VARCHAR(16) NOT NULL, 
	area_code VARCHAR(10) NOT NULL, 
	area_level VARCHAR(10) NOT NULL, 
	year INTEGER NOT NULL, 
	inhabitants INTEGER, 
	dwellings INTEGER, 
	land_area_ha FLOAT, 
	retrieved_at BIGINT NOT NULL, 
	synthetic INTEGER DEFAULT '0' NOT NULL, 
	CONSTRAINT pk_area_figures PRIMARY KEY (id), 
	CONSTRAINT uq_area_figures_table_id_area_code_year UNIQUE (table_id, area_code, year)
);

CREATE TABLE perception (
	id INTEGER NOT NULL, 
	source VARCHAR(40) NOT NULL, 
	table_id VARCHAR(16) NOT NULL, 
	area_code VARCHAR(10) NOT NULL, 
	area_level VARCHAR(10) NOT NULL, 
	year INTEGER NOT NULL, 
	indicator VARCHAR(80) NOT NULL, 
	label TEXT NOT NULL, 
	unit VARCHAR(40) NOT NULL, 
	value FLOAT, 
	lower FLOAT, 
	upper FLOAT, 
	retrieved_at BIGINT NOT NULL, 
	synthetic INTEGER DEFAULT '0' NOT NULL, 
	CONSTRAINT pk_perception PRIMARY KEY (id), 
	CONSTRAINT uq_perception_table_id_area_code_year_indicator UNIQUE (table_id, area_code, year, indicator)
);

CREATE TABLE alerts (
	id INTEGER NOT NULL, 
	alert_key VARCHAR(64) NOT NULL, 
	batch_id INTEGER, 
	created_at BIGINT NOT NULL, 
	crime_type VARCHAR(40) NOT NULL, 
	valid_from BIGINT NOT NULL, 
	valid_until BIGINT NOT NULL, 
	distance_m FLOAT NOT NULL, 
	days FLOAT NOT NULL, 
	extent_source VARCHAR(16) NOT NULL, 
	n_incidents INTEGER NOT NULL, 
	cells TEXT NOT NULL, 
	zone_wkt TEXT NOT NULL, 
	buurten TEXT, 
	wijken TEXT, 
	group_ids TEXT, 
	message TEXT NOT NULL, 
	action TEXT NOT NULL, 
	status VARCHAR(16) NOT NULL, 
	CONSTRAINT pk_alerts PRIMARY KEY (id), 
	CONSTRAINT uq_alerts_alert_key UNIQUE (alert_key), 
	CONSTRAINT fk_alerts_batch_id_import_batches FOREIGN KEY(batch_id) REFERENCES import_batches (id)
);

CREATE INDEX ix_alerts_valid_until ON alerts (valid_until);

CREATE INDEX ix_alerts_status ON alerts (status);

CREATE TABLE alert_deliveries (
	id INTEGER NOT NULL, 
	alert_id INTEGER NOT NULL, 
	channel VARCHAR(16) NOT NULL, 
	target TEXT NOT NULL, 
	attempt INTEGER NOT NULL, 
	at BIGINT NOT NULL, 
	ok INTEGER NOT NULL, 
	http_status INTEGER, 
	error TEXT, 
	idempotency_key VARCHAR(64) NOT NULL, 
	CONSTRAINT pk_alert_deliveries PRIMARY KEY (id), 
	CONSTRAINT fk_alert_deliveries_alert_id_alerts FOREIGN KEY(alert_id) REFERENCES alerts (id) ON DELETE CASCADE
);

CREATE INDEX ix_alert_deliveries_alert_id ON alert_deliveries (alert_id);

CREATE TABLE jobs (
	id VARCHAR(32) NOT NULL, 
	kind VARCHAR(64) NOT NULL, 
	job_key VARCHAR(64) NOT NULL, 
	role VARCHAR(16) NOT NULL, 
	owner VARCHAR(200) NOT NULL, 
	status VARCHAR(16) NOT NULL, 
	progress FLOAT NOT NULL, 
	message TEXT NOT NULL, 
	spec TEXT NOT NULL, 
	created_at FLOAT NOT NULL, 
	started_at FLOAT, 
	finished_at FLOAT, 
	worker VARCHAR(128), 
	lease_until FLOAT, 
	attempts INTEGER NOT NULL, 
	media_type VARCHAR(128), 
	result BLOB, 
	error TEXT, gemeenten VARCHAR(400), 
	CONSTRAINT pk_jobs PRIMARY KEY (id)
);

CREATE INDEX ix_jobs_job_key ON jobs (job_key);

CREATE INDEX ix_jobs_status ON jobs (status);

CREATE TABLE backtest_cache (
	cache_key VARCHAR(64) NOT NULL, 
	crime_type TEXT, 
	end_at BIGINT, 
	created_at BIGINT NOT NULL, 
	meta TEXT NOT NULL, 
	scores BLOB NOT NULL, 
	summary BLOB NOT NULL, 
	CONSTRAINT pk_backtest_cache PRIMARY KEY (cache_key)
);

CREATE INDEX ix_backtest_cache_created_at ON backtest_cache (created_at);

CREATE INDEX ix_published_counts_gemeente ON published_counts (substr(area_code, 3, 4));

CREATE INDEX ix_area_figures_gemeente ON area_figures (substr(area_code, 3, 4));

CREATE INDEX ix_perception_gemeente ON perception (substr(area_code, 3, 4));

