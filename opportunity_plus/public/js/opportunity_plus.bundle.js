// Loaded on every desk page (hooks.app_include_js).
import "../../opportunity_plus/dashboard_chart_source/weighted_pipeline_by_close_month/weighted_pipeline_by_close_month.js";
import "../../opportunity_plus/dashboard_chart_source/open_pipeline_by_stage/open_pipeline_by_stage.js";
