//! The OpenAPI description of the tracking and registry API, served at
//! `GET /api/2.0/mlflow/openapi.json`. Schemas come from the request and response models
//! themselves (`utoipa::ToSchema`, derived in `app::models` for the server build only);
//! the table below pairs each route with its models. GET requests take their fields as
//! query parameters, the others as a JSON body (as `Mlflow<T>` reads them); `{name}` in a
//! path is a path parameter. Every error is MLflow's `{"error_code", "message"}`. A test
//! checks that every `/api/` route is described; `scripts/test.sh` runs schemathesis
//! against the description.

use app::models::*;
use axum::Json;
use std::sync::OnceLock;
use utoipa::openapi::{
    Content, ContentBuilder, HttpMethod, InfoBuilder, KnownFormat, ObjectBuilder, OpenApi,
    OpenApiBuilder, PathItem, PathsBuilder, Ref, RefOr, ResponseBuilder, Schema, SchemaFormat,
    Type,
    path::{OperationBuilder, ParameterBuilder, ParameterIn},
    request_body::RequestBodyBuilder,
    schema::ComponentsBuilder,
};
use utoipa::{PartialSchema, ToSchema};

/// `{}`: what most writes answer.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
struct Empty {}

/// A JSON object whose fields are ferroflow's own (permissions, tokens, server-info) and
/// are not spelled out here.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
struct Object {}

/// No request fields.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
struct NoFields {}

/// `GET /api/2.0/mlflow/openapi.json`.
pub async fn document() -> Json<&'static OpenApi> {
    static DOC: OnceLock<OpenApi> = OnceLock::new();
    Json(DOC.get_or_init(build))
}

struct Spec {
    schemas: Vec<(String, RefOr<Schema>)>,
    paths: PathsBuilder,
    /// Prepended to the paths given to `add`.
    prefix: &'static str,
}

/// What an operation reads besides its path parameters.
enum Input {
    /// The fields of this schema, each a query parameter.
    Query(RefOr<Schema>),
    /// A body of this content.
    Body(Content),
    None,
}

impl Spec {
    /// Records `T` (and what it refers to) among the components; returns a reference to it.
    fn schema<T: ToSchema>(&mut self) -> Ref {
        self.schemas.push((T::name().into_owned(), T::schema()));
        T::schemas(&mut self.schemas);
        Ref::from_schema_name(T::name())
    }

    /// Adds `method path`, reading `Req` (as query parameters for GET, else a JSON body)
    /// and answering `Resp` as JSON.
    fn add<Req: ToSchema, Resp: ToSchema>(&mut self, method: HttpMethod, path: &str) {
        let input = self.input::<Req>(&method);
        let ok = json(self.schema::<Resp>());
        self.operation(method, path, input, ok);
    }

    /// Adds `method path`, reading `Req` and answering the file's bytes.
    fn add_download<Req: ToSchema>(&mut self, method: HttpMethod, path: &str) {
        let input = self.input::<Req>(&method);
        self.operation(method, path, input, binary());
    }

    /// Adds `method path`, reading the file's bytes and answering `{}`.
    fn add_upload(&mut self, method: HttpMethod, path: &str) {
        let ok = json(self.schema::<Empty>());
        self.operation(method, path, Input::Body(binary()), ok);
    }

    fn input<Req: ToSchema>(&mut self, method: &HttpMethod) -> Input {
        if Req::name() == NoFields::name() {
            return Input::None;
        }
        let schema = self.schema::<Req>();
        match method {
            HttpMethod::Get => Input::Query(Req::schema()),
            _ => Input::Body(json(schema)),
        }
    }

    fn operation(&mut self, method: HttpMethod, path: &str, input: Input, ok: Content) {
        let verb = match method {
            HttpMethod::Get => "get",
            HttpMethod::Post => "post",
            HttpMethod::Put => "put",
            HttpMethod::Patch => "patch",
            HttpMethod::Delete => "delete",
            _ => "other",
        };
        let full = format!("{}{path}", self.prefix).replace("{*", "{");
        let op_id = format!(
            "{verb}{}",
            full.replace(['/', '-', '.'], "_").replace(['{', '}'], "")
        );
        let mut op = OperationBuilder::new().operation_id(Some(op_id));
        // `{name}` segments: required string path parameters.
        for name in full
            .split('{')
            .skip(1)
            .filter_map(|p| p.split_once('}'))
            .map(|(n, _)| n)
        {
            op = op.parameter(
                ParameterBuilder::new()
                    .name(name)
                    .parameter_in(ParameterIn::Path)
                    .required(utoipa::openapi::Required::True)
                    .schema(Some(ObjectBuilder::new().schema_type(Type::String))),
            );
        }
        match input {
            Input::Query(schema) => {
                if let RefOr::T(Schema::Object(object)) = schema {
                    for (name, schema) in object.properties {
                        op = op.parameter(
                            ParameterBuilder::new()
                                .name(name)
                                .parameter_in(ParameterIn::Query)
                                .schema(Some(schema)),
                        );
                    }
                }
            }
            Input::Body(content) => {
                let mime = if is_binary(&content) {
                    "application/octet-stream"
                } else {
                    "application/json"
                };
                op = op.request_body(Some(
                    RequestBodyBuilder::new().content(mime, content).build(),
                ));
            }
            Input::None => {}
        }
        let mime = if is_binary(&ok) {
            "application/octet-stream"
        } else {
            "application/json"
        };
        let ok = ResponseBuilder::new()
            .description("Success")
            .content(mime, ok);
        let error = ResponseBuilder::new()
            .description("MLflow's error: a 4xx for the caller's mistakes, 503 when busy")
            .content(
                "application/json",
                json(Ref::from_schema_name(ErrorBody::name())),
            );
        let op = op.response("200", ok).response("default", error).build();
        let paths = std::mem::take(&mut self.paths);
        self.paths = paths.path(full, PathItem::new(method, op));
    }
}

fn json(schema: Ref) -> Content {
    ContentBuilder::new().schema(Some(schema)).build()
}

/// Raw bytes: an artifact's content.
fn binary() -> Content {
    ContentBuilder::new()
        .schema(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary))),
        ))
        .build()
}

fn is_binary(content: &Content) -> bool {
    matches!(&content.schema, Some(RefOr::T(Schema::Object(o)))
        if o.format == Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
}

fn build() -> OpenApi {
    use crate::api::logged_models as lm;
    use crate::auth::api::{GrantRequest, ServiceAccountRequest, TokenRequest};
    use HttpMethod::Put;
    use HttpMethod::{Delete, Get, Patch, Post};
    let mut s = Spec {
        schemas: vec![(ErrorBody::name().into_owned(), ErrorBody::schema())],
        paths: PathsBuilder::new(),
        prefix: "/api/2.0/mlflow",
    };
    ErrorBody::schemas(&mut s.schemas);
    // Experiments.
    s.add::<CreateExperiment, CreateExperimentResponse>(Post, "/experiments/create");
    s.add::<ExperimentIdRequest, ExperimentResponse>(Get, "/experiments/get");
    s.add::<GetExperimentByName, ExperimentResponse>(Get, "/experiments/get-by-name");
    s.add::<SearchExperiments, SearchExperimentsResponse>(Post, "/experiments/search");
    s.add::<SearchExperiments, SearchExperimentsResponse>(Get, "/experiments/search");
    s.add::<UpdateExperiment, Empty>(Post, "/experiments/update");
    s.add::<ExperimentIdRequest, Empty>(Post, "/experiments/delete");
    s.add::<ExperimentIdRequest, Empty>(Post, "/experiments/restore");
    s.add::<SetExperimentTag, Empty>(Post, "/experiments/set-experiment-tag");
    s.add::<SetExperimentTag, Empty>(Post, "/experiments/delete-experiment-tag");
    // Runs and their data.
    s.add::<CreateRun, RunResponse>(Post, "/runs/create");
    s.add::<RunIdRequest, RunResponse>(Get, "/runs/get");
    s.add::<UpdateRun, UpdateRunResponse>(Post, "/runs/update");
    s.add::<RunIdRequest, Empty>(Post, "/runs/delete");
    s.add::<RunIdRequest, Empty>(Post, "/runs/restore");
    s.add::<SearchRuns, SearchRunsResponse>(Post, "/runs/search");
    s.add::<SearchRuns, SearchRunsResponse>(Get, "/runs/search");
    s.add::<LogMetric, Empty>(Post, "/runs/log-metric");
    s.add::<RunKeyValue, Empty>(Post, "/runs/log-parameter");
    s.add::<LogBatch, Empty>(Post, "/runs/log-batch");
    s.add::<RunKeyValue, Empty>(Post, "/runs/set-tag");
    s.add::<DeleteTag, Empty>(Post, "/runs/delete-tag");
    s.add::<LogInputs, Empty>(Post, "/runs/log-inputs");
    s.add::<LogModel, Empty>(Post, "/runs/log-model");
    s.add::<LogOutputs, Empty>(Post, "/runs/outputs");
    s.add::<GetMetricHistory, MetricHistoryResponse>(Get, "/metrics/get-history");
    s.add::<GetMetricHistoryBulk, MetricHistoryResponse>(Get, "/metrics/get-history-bulk-interval");
    s.add::<ListArtifacts, ListArtifactsResponse>(Get, "/artifacts/list");
    // Logged models.
    s.add::<CreateLoggedModel, LoggedModelResponse>(Post, "/logged-models");
    s.add::<SearchLoggedModels, SearchLoggedModelsResponse>(Post, "/logged-models/search");
    s.add::<lm::GetQuery, LoggedModelResponse>(Get, "/logged-models/{model_id}");
    s.add::<FinalizeLoggedModel, LoggedModelResponse>(Patch, "/logged-models/{model_id}");
    s.add::<NoFields, Empty>(Delete, "/logged-models/{model_id}");
    s.add::<LoggedModelKeyValues, Empty>(Patch, "/logged-models/{model_id}/tags");
    s.add::<NoFields, Empty>(Delete, "/logged-models/{model_id}/tags/{tag_key}");
    s.add::<LoggedModelKeyValues, Empty>(Post, "/logged-models/{model_id}/params");
    s.add::<lm::ArtifactFileQuery, ListArtifactsResponse>(
        Get,
        "/logged-models/{model_id}/artifacts/directories",
    );
    s.add_download::<lm::ArtifactFileQuery>(Get, "/logged-models/{model_id}/artifacts/files");
    // The model registry.
    s.add::<CreateRegisteredModel, RegisteredModelResponse>(Post, "/registered-models/create");
    s.add::<RegisteredModelName, RegisteredModelResponse>(Get, "/registered-models/get");
    s.add::<RenameRegisteredModel, RegisteredModelResponse>(Post, "/registered-models/rename");
    s.add::<UpdateRegisteredModel, RegisteredModelResponse>(Patch, "/registered-models/update");
    s.add::<RegisteredModelName, Empty>(Delete, "/registered-models/delete");
    s.add::<SearchRegistry, SearchRegisteredModelsResponse>(Get, "/registered-models/search");
    for method in [Post, Get] {
        s.add::<GetLatestVersions, ModelVersionsResponse>(
            method,
            "/registered-models/get-latest-versions",
        );
    }
    s.add::<RegisteredModelTag, Empty>(Post, "/registered-models/set-tag");
    s.add::<RegisteredModelTag, Empty>(Delete, "/registered-models/delete-tag");
    s.add::<ModelAlias, Empty>(Post, "/registered-models/alias");
    s.add::<ModelAlias, Empty>(Delete, "/registered-models/alias");
    s.add::<ModelAlias, ModelVersionResponse>(Get, "/registered-models/alias");
    s.add::<CreateModelVersion, ModelVersionResponse>(Post, "/model-versions/create");
    s.add::<ModelVersionRequest, ModelVersionResponse>(Get, "/model-versions/get");
    s.add::<ModelVersionRequest, ModelVersionResponse>(Patch, "/model-versions/update");
    s.add::<TransitionStage, ModelVersionResponse>(Post, "/model-versions/transition-stage");
    s.add::<ModelVersionRequest, Empty>(Delete, "/model-versions/delete");
    s.add::<SearchRegistry, ModelVersionsResponse>(Get, "/model-versions/search");
    s.add::<ModelVersionRequest, DownloadUriResponse>(Get, "/model-versions/get-download-uri");
    s.add::<ModelVersionRequest, Empty>(Post, "/model-versions/set-tag");
    s.add::<ModelVersionRequest, Empty>(Delete, "/model-versions/delete-tag");
    // Permissions (MLflow's basic-auth API).
    for what in ["experiments", "registered-models"] {
        s.add::<GrantRequest, Object>(Post, &format!("/{what}/permissions/create"));
        s.add::<GrantRequest, Object>(Get, &format!("/{what}/permissions/get"));
        s.add::<GrantRequest, Object>(Get, &format!("/{what}/permissions/list"));
        s.add::<GrantRequest, Object>(Patch, &format!("/{what}/permissions/update"));
        s.add::<GrantRequest, Object>(Delete, &format!("/{what}/permissions/delete"));
    }
    // The artifact proxy. Its multipart routes (`mpu/...`) answer 501 NOT_IMPLEMENTED by
    // design, as MLflow's do for such stores, and are left out.
    s.prefix = "/api/2.0/mlflow-artifacts";
    s.add::<ArtifactQuery, ListArtifactsResponse>(Get, "/artifacts");
    s.add_download::<NoFields>(Get, "/artifacts/{*path}");
    s.add_upload(Put, "/artifacts/{*path}");
    s.add::<NoFields, Empty>(Delete, "/artifacts/{*path}");
    // MLflow 3's server-info, and ferroflow's own token API.
    s.prefix = "";
    s.add::<NoFields, Object>(Get, "/api/3.0/mlflow/server-info");
    s.add::<TokenRequest, Object>(Post, "/api/2.0/ferroflow/tokens/create");
    s.add::<TokenRequest, Object>(Get, "/api/2.0/ferroflow/tokens/list");
    s.add::<TokenRequest, Object>(Post, "/api/2.0/ferroflow/tokens/revoke");
    s.add::<ServiceAccountRequest, Object>(Post, "/api/2.0/ferroflow/service-accounts/create");
    s.add::<NoFields, Object>(Get, "/api/2.0/ferroflow/service-accounts/list");

    let mut components = ComponentsBuilder::new();
    for (name, schema) in std::mem::take(&mut s.schemas) {
        components = components.schema(name, schema);
    }
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("ferroflow: the MLflow tracking and model registry REST API")
                .version(env!("CARGO_PKG_VERSION"))
                .build(),
        )
        .paths(s.paths.build())
        .components(Some(components.build()))
        .build()
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_reference_resolves() {
        let doc = serde_json::to_value(super::build()).unwrap();
        let text = doc.to_string();
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        for piece in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
            let name = &piece[..piece.find('"').unwrap()];
            assert!(
                schemas.contains_key(name),
                "{name} is referenced, not defined"
            );
        }
        assert!(doc["paths"]["/api/2.0/mlflow/runs/search"]["post"].is_object());
        assert!(doc["paths"]["/api/2.0/mlflow/runs/get"]["get"]["parameters"].is_array());
    }

    /// A route added to the API without a description here fails this.
    #[test]
    fn every_api_route_is_described() {
        let doc = serde_json::to_value(super::build()).unwrap();
        let undescribed: Vec<String> = crate::api::route_table()
            .into_iter()
            .filter(|r| r.path.starts_with("/api/"))
            // The description itself, and the multipart routes that answer 501 by design.
            .filter(|r| !r.path.ends_with("/openapi.json") && !r.path.contains("/mpu/"))
            .filter(|r| {
                let path = r.path.replace("{*", "{");
                !doc["paths"][&path][r.method].is_object()
            })
            .map(|r| format!("{} {}", r.method, r.path))
            .collect();
        assert!(undescribed.is_empty(), "not described: {undescribed:#?}");
        let files = &doc["paths"]["/api/2.0/mlflow-artifacts/artifacts/{path}"];
        assert_eq!(files["get"]["parameters"][0]["in"], "path");
        assert!(files["put"]["requestBody"]["content"]["application/octet-stream"].is_object());
    }
}
