//! The model registry and logged models over HTTP, on SQLite and PostgreSQL, with
//! every error path MLflow defines for them.

mod common;

use common::{TestApp, assert_error};
use serde_json::{Value, json};

on_both_backends!(
    registered_models_are_created_renamed_updated_and_deleted,
    unknown_models_and_duplicate_names,
    versions_count_up_and_deleted_ones_stay_hidden,
    unknown_and_malformed_versions,
    aliases_are_validated_and_follow_renames,
    stages_transition_and_archive,
    searches_filter_order_and_page,
    model_version_sources_are_checked,
    logged_models_and_run_outputs,
);

impl TestApp {
    async fn call(&self, method: reqwest::Method, path: &str, body: Value) -> (u16, Value) {
        common::send_json(self.client.request(method, self.url(path)), &body).await
    }

    async fn patch(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(reqwest::Method::PATCH, path, body).await
    }

    async fn delete(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(reqwest::Method::DELETE, path, body).await
    }

    async fn model(&self, name: &str) -> Value {
        self.ok("registered-models/create", json!({ "name": name }))
            .await["registered_model"]
            .clone()
    }

    /// A version from a fresh run's `model` folder.
    async fn version(&self, name: &str) -> Value {
        let exp = self
            .experiment(&format!("{name}-{}", uuid::Uuid::new_v4().simple()))
            .await;
        let run = self.run(&exp).await;
        let body = json!({"name": name, "source": format!("runs:/{run}/model"), "run_id": run});
        self.ok("model-versions/create", body).await["model_version"].clone()
    }
}

async fn registered_models_are_created_renamed_updated_and_deleted(app: &TestApp) {
    let created = app
        .ok(
            "registered-models/create",
            json!({"name": "m", "description": "d", "tags": [{"key": "t", "value": "1"}]}),
        )
        .await;
    let rm = &created["registered_model"];
    assert_eq!(rm["name"], "m");
    assert_eq!(rm["description"], "d");
    assert_eq!(rm["tags"], json!([{"key": "t", "value": "1"}]));
    assert!(rm["creation_timestamp"].as_i64().unwrap() > 0);

    let (status, updated) = app
        .patch(
            "registered-models/update",
            json!({"name": "m", "description": "e"}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(updated["registered_model"]["description"], "e");
    app.ok(
        "registered-models/set-tag",
        json!({"name": "m", "key": "u", "value": "2"}),
    )
    .await;
    assert_eq!(
        app.delete(
            "registered-models/delete-tag",
            json!({"name": "m", "key": "t"})
        )
        .await
        .0,
        200
    );
    assert_eq!(
        app.delete(
            "registered-models/delete-tag",
            json!({"name": "m", "key": "never"})
        )
        .await
        .0,
        200
    );
    app.version("m").await;
    let renamed = app
        .ok(
            "registered-models/rename",
            json!({"name": "m", "new_name": "m2"}),
        )
        .await;
    assert_eq!(renamed["registered_model"]["name"], "m2");
    assert_eq!(
        renamed["registered_model"]["tags"],
        json!([{"key": "u", "value": "2"}])
    );
    let (_, v) = app
        .get("model-versions/get", &[("name", "m2"), ("version", "1")])
        .await;
    assert_eq!(
        v["model_version"]["name"], "m2",
        "versions follow the rename"
    );
    assert_error(
        &app.get("registered-models/get", &[("name", "m")]).await,
        404,
        "RESOURCE_DOES_NOT_EXIST",
    );

    assert_eq!(
        app.delete("registered-models/delete", json!({"name": "m2"}))
            .await
            .0,
        200
    );
    assert_error(
        &app.get("registered-models/get", &[("name", "m2")]).await,
        404,
        "RESOURCE_DOES_NOT_EXIST",
    );
    assert_error(
        &app.get("model-versions/get", &[("name", "m2"), ("version", "1")])
            .await,
        404,
        "RESOURCE_DOES_NOT_EXIST",
    );
    // The name is free again, and numbering starts over (the model is gone for good).
    app.model("m2").await;
    assert_eq!(app.version("m2").await["version"], "1");
}

async fn unknown_models_and_duplicate_names(app: &TestApp) {
    app.model("dup").await;
    let again = app
        .post("registered-models/create", json!({"name": "dup"}))
        .await;
    assert_error(&again, 400, "RESOURCE_ALREADY_EXISTS");
    assert_eq!(
        again.1["message"],
        "Registered Model (name=dup) already exists."
    );
    app.model("other").await;
    assert_error(
        &app.post(
            "registered-models/rename",
            json!({"name": "other", "new_name": "dup"}),
        )
        .await,
        400,
        "RESOURCE_ALREADY_EXISTS",
    );

    let missing = app.get("registered-models/get", &[("name", "nope")]).await;
    assert_error(&missing, 404, "RESOURCE_DOES_NOT_EXIST");
    assert_eq!(
        missing.1["message"],
        "Registered Model with name=nope not found"
    );
    assert_error(
        &app.post(
            "registered-models/rename",
            json!({"name": "nope", "new_name": "x"}),
        )
        .await,
        404,
        "RESOURCE_DOES_NOT_EXIST",
    );
    assert_error(
        &app.patch(
            "registered-models/update",
            json!({"name": "nope", "description": "x"}),
        )
        .await,
        404,
        "RESOURCE_DOES_NOT_EXIST",
    );
    assert_error(
        &app.delete("registered-models/delete", json!({"name": "nope"}))
            .await,
        404,
        "RESOURCE_DOES_NOT_EXIST",
    );
    assert_error(
        &app.post(
            "registered-models/set-tag",
            json!({"name": "nope", "key": "k", "value": "v"}),
        )
        .await,
        404,
        "RESOURCE_DOES_NOT_EXIST",
    );
    assert_error(
        &app.get("registered-models/get-latest-versions", &[("name", "nope")])
            .await,
        404,
        "RESOURCE_DOES_NOT_EXIST",
    );
    assert_error(
        &app.post(
            "model-versions/create",
            json!({"name": "nope", "source": "s3://b/m"}),
        )
        .await,
        404,
        "RESOURCE_DOES_NOT_EXIST",
    );
    assert_error(
        &app.get(
            "registered-models/alias",
            &[("name", "nope"), ("alias", "a")],
        )
        .await,
        404,
        "RESOURCE_DOES_NOT_EXIST",
    );

    for bad in ["", "  ", "a/b", "a:b", ".."] {
        assert_error(
            &app.post("registered-models/create", json!({"name": bad}))
                .await,
            400,
            "INVALID_PARAMETER_VALUE",
        );
    }
    assert_error(
        &app.post("registered-models/create", json!({})).await,
        400,
        "INVALID_PARAMETER_VALUE",
    );
    assert_error(
        &app.post(
            "registered-models/rename",
            json!({"name": "dup", "new_name": "x/y"}),
        )
        .await,
        400,
        "INVALID_PARAMETER_VALUE",
    );
    assert_error(
        &app.post(
            "registered-models/create",
            json!({"name": "t", "tags": [{"key": "bad*key", "value": "v"}]}),
        )
        .await,
        400,
        "INVALID_PARAMETER_VALUE",
    );
    // DELETE reads its body, as MLflow does, not the query string.
    let r = app
        .client
        .delete(format!("{}?name=dup", app.url("registered-models/delete")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

async fn versions_count_up_and_deleted_ones_stay_hidden(app: &TestApp) {
    app.model("v").await;
    for expected in ["1", "2", "3"] {
        assert_eq!(app.version("v").await["version"], expected);
    }
    app.ok(
        "registered-models/alias",
        json!({"name": "v", "alias": "top", "version": "3"}),
    )
    .await;
    assert_eq!(
        app.delete(
            "model-versions/delete",
            json!({"name": "v", "version": "3"})
        )
        .await
        .0,
        200
    );
    assert_error(
        &app.get("model-versions/get", &[("name", "v"), ("version", "3")])
            .await,
        404,
        "RESOURCE_DOES_NOT_EXIST",
    );
    assert_error(
        &app.delete(
            "model-versions/delete",
            json!({"name": "v", "version": "3"}),
        )
        .await,
        404,
        "RESOURCE_DOES_NOT_EXIST",
    );
    assert_error(
        &app.get(
            "registered-models/alias",
            &[("name", "v"), ("alias", "top")],
        )
        .await,
        400,
        "INVALID_PARAMETER_VALUE",
    );
    assert_eq!(
        app.version("v").await["version"],
        "4",
        "deleted numbers are not reused"
    );
    let (_, found) = app
        .get("model-versions/search", &[("filter", "name = 'v'")])
        .await;
    let mut numbers: Vec<&str> = found["model_versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_str().unwrap())
        .collect();
    numbers.sort();
    assert_eq!(numbers, ["1", "2", "4"]);
    let (_, rm) = app.get("registered-models/get", &[("name", "v")]).await;
    assert_eq!(
        rm["registered_model"]["latest_versions"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(rm["registered_model"]["latest_versions"][0]["version"], "4");
    assert!(rm["registered_model"].get("aliases").is_none());
}

async fn unknown_and_malformed_versions(app: &TestApp) {
    app.model("u").await;
    app.version("u").await;
    let missing = app
        .get("model-versions/get", &[("name", "u"), ("version", "9")])
        .await;
    assert_error(&missing, 404, "RESOURCE_DOES_NOT_EXIST");
    assert_eq!(
        missing.1["message"],
        "Model Version (name=u, version=9) not found"
    );
    let bad = app
        .get("model-versions/get", &[("name", "u"), ("version", "x")])
        .await;
    assert_error(&bad, 400, "INVALID_PARAMETER_VALUE");
    assert!(
        bad.1["message"]
            .as_str()
            .unwrap()
            .contains("must be an integer")
    );
    assert_error(
        &app.get("model-versions/get", &[("name", "u")]).await,
        400,
        "INVALID_PARAMETER_VALUE",
    );
    assert_error(
        &app.patch(
            "model-versions/update",
            json!({"name": "u", "version": "9", "description": "d"}),
        )
        .await,
        404,
        "RESOURCE_DOES_NOT_EXIST",
    );
    assert_error(
        &app.get(
            "model-versions/get-download-uri",
            &[("name", "u"), ("version", "9")],
        )
        .await,
        404,
        "RESOURCE_DOES_NOT_EXIST",
    );
    assert_error(
        &app.post(
            "model-versions/set-tag",
            json!({"name": "u", "version": "9", "key": "k", "value": "v"}),
        )
        .await,
        404,
        "RESOURCE_DOES_NOT_EXIST",
    );
    assert_error(
        &app.delete(
            "model-versions/delete-tag",
            json!({"name": "u", "version": "9", "key": "k"}),
        )
        .await,
        404,
        "RESOURCE_DOES_NOT_EXIST",
    );
    let body = json!({"name": "u", "version": "9", "stage": "Production", "archive_existing_versions": false});
    assert_error(
        &app.post("model-versions/transition-stage", body).await,
        404,
        "RESOURCE_DOES_NOT_EXIST",
    );

    let (status, updated) = app
        .patch(
            "model-versions/update",
            json!({"name": "u", "version": 1, "description": "d"}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(updated["model_version"]["description"], "d");
    app.ok(
        "model-versions/set-tag",
        json!({"name": "u", "version": "1", "key": "k", "value": "v"}),
    )
    .await;
    let (_, v) = app
        .get("model-versions/get", &[("name", "u"), ("version", "1")])
        .await;
    assert_eq!(
        v["model_version"]["tags"],
        json!([{"key": "k", "value": "v"}])
    );
    assert_eq!(
        app.delete(
            "model-versions/delete-tag",
            json!({"name": "u", "version": "1", "key": "k"})
        )
        .await
        .0,
        200
    );
    assert_eq!(
        app.delete(
            "model-versions/delete-tag",
            json!({"name": "u", "version": "1", "key": "k"})
        )
        .await
        .0,
        200
    );
}

async fn aliases_are_validated_and_follow_renames(app: &TestApp) {
    app.model("a").await;
    app.version("a").await;
    app.version("a").await;
    for bad in [
        "",
        "latest",
        "Latest",
        "v1",
        "V22",
        "has space",
        "a/b",
        "é!",
        &"x".repeat(256),
    ] {
        let r = app
            .post(
                "registered-models/alias",
                json!({"name": "a", "alias": bad, "version": "1"}),
            )
            .await;
        assert_error(&r, 400, "INVALID_PARAMETER_VALUE");
    }
    assert_error(
        &app.post(
            "registered-models/alias",
            json!({"name": "a", "alias": "ok", "version": "7"}),
        )
        .await,
        404,
        "RESOURCE_DOES_NOT_EXIST",
    );
    app.ok(
        "registered-models/alias",
        json!({"name": "a", "alias": "champion", "version": "1"}),
    )
    .await;
    app.ok(
        "registered-models/alias",
        json!({"name": "a", "alias": "champion", "version": "2"}),
    )
    .await;
    app.ok(
        "registered-models/alias",
        json!({"name": "a", "alias": "v1x", "version": "1"}),
    )
    .await;
    let (_, got) = app
        .get(
            "registered-models/alias",
            &[("name", "a"), ("alias", "champion")],
        )
        .await;
    assert_eq!(got["model_version"]["version"], "2");
    assert_eq!(got["model_version"]["aliases"], json!(["champion"]));
    let (_, latest) = app
        .get(
            "registered-models/alias",
            &[("name", "a"), ("alias", "latest")],
        )
        .await;
    assert_eq!(latest["model_version"]["version"], "2");
    assert_error(
        &app.get(
            "registered-models/alias",
            &[("name", "a"), ("alias", "nobody")],
        )
        .await,
        400,
        "INVALID_PARAMETER_VALUE",
    );

    app.ok(
        "registered-models/rename",
        json!({"name": "a", "new_name": "b"}),
    )
    .await;
    let (_, rm) = app.get("registered-models/get", &[("name", "b")]).await;
    assert_eq!(
        rm["registered_model"]["aliases"],
        json!([{"alias": "champion", "version": "2"}, {"alias": "v1x", "version": "1"}])
    );
    let (_, got) = app
        .get(
            "registered-models/alias",
            &[("name", "b"), ("alias", "champion")],
        )
        .await;
    assert_eq!(got["model_version"]["name"], "b");
    assert_eq!(
        app.delete(
            "registered-models/alias",
            json!({"name": "b", "alias": "champion"})
        )
        .await
        .0,
        200
    );
    assert_eq!(
        app.delete(
            "registered-models/alias",
            json!({"name": "b", "alias": "champion"})
        )
        .await
        .0,
        200
    );
    assert_error(
        &app.delete(
            "registered-models/alias",
            json!({"name": "b", "alias": "bad alias"}),
        )
        .await,
        400,
        "INVALID_PARAMETER_VALUE",
    );
}

async fn stages_transition_and_archive(app: &TestApp) {
    app.model("s").await;
    for _ in 0..3 {
        app.version("s").await;
    }
    let t = |v: &str, stage: &str, archive: bool| json!({"name": "s", "version": v, "stage": stage, "archive_existing_versions": archive});
    app.ok(
        "model-versions/transition-stage",
        t("1", "production", false),
    )
    .await;
    app.ok("model-versions/transition-stage", t("2", "Staging", false))
        .await;
    let moved = app
        .ok(
            "model-versions/transition-stage",
            t("3", "PRODUCTION", true),
        )
        .await;
    assert_eq!(moved["model_version"]["current_stage"], "Production");
    let (_, v1) = app
        .get("model-versions/get", &[("name", "s"), ("version", "1")])
        .await;
    assert_eq!(v1["model_version"]["current_stage"], "Archived");
    let (_, latest) = app
        .get(
            "registered-models/get-latest-versions",
            &[("name", "s"), ("stages", "production")],
        )
        .await;
    assert_eq!(latest["model_versions"].as_array().unwrap().len(), 1);
    assert_eq!(latest["model_versions"][0]["version"], "3");
    let (_, latest) = app
        .post(
            "registered-models/get-latest-versions",
            json!({"name": "s"}),
        )
        .await;
    assert_eq!(latest["model_versions"].as_array().unwrap().len(), 3);
    assert_error(
        &app.post(
            "registered-models/get-latest-versions",
            json!({"name": "s", "stages": ["Nowhere"]}),
        )
        .await,
        400,
        "INVALID_PARAMETER_VALUE",
    );

    assert_error(
        &app.post("model-versions/transition-stage", t("1", "Nowhere", false))
            .await,
        400,
        "INVALID_PARAMETER_VALUE",
    );
    // MLflow raises this one without a code: INTERNAL_ERROR.
    assert_error(
        &app.post("model-versions/transition-stage", t("1", "Archived", true))
            .await,
        500,
        "INTERNAL_ERROR",
    );
    let missing = json!({"name": "s", "version": "1", "stage": "Staging"});
    assert_error(
        &app.post("model-versions/transition-stage", missing).await,
        400,
        "INVALID_PARAMETER_VALUE",
    );
}

async fn searches_filter_order_and_page(app: &TestApp) {
    for (name, team) in [("alpha", "x"), ("beta", "y"), ("Gamma", "x")] {
        app.ok(
            "registered-models/create",
            json!({"name": name, "tags": [{"key": "team", "value": team}]}),
        )
        .await;
    }
    let names = |v: &Value, key: &str| -> Vec<String> {
        v[key].as_array().map_or(Vec::new(), |a| {
            a.iter()
                .map(|m| m["name"].as_str().unwrap().to_owned())
                .collect()
        })
    };
    let search = |filter: &'static str| async move {
        app.get("registered-models/search", &[("filter", filter)])
            .await
    };
    assert_eq!(
        names(&search("").await.1, "registered_models"),
        ["Gamma", "alpha", "beta"]
    );
    assert_eq!(
        names(&search("tags.team = 'x'").await.1, "registered_models"),
        ["Gamma", "alpha"]
    );
    assert_eq!(
        names(&search("name LIKE 'a%'").await.1, "registered_models"),
        ["alpha"]
    );
    assert_eq!(
        names(&search("name ILIKE 'g%'").await.1, "registered_models"),
        ["Gamma"]
    );
    assert_eq!(
        names(
            &search("name IN ('beta', 'alpha')").await.1,
            "registered_models"
        ),
        ["alpha", "beta"]
    );
    assert_eq!(
        names(
            &search("name != 'beta' AND tags.team LIKE '%'").await.1,
            "registered_models"
        ),
        ["Gamma", "alpha"]
    );
    // The prompt test the client appends to every search is MLflow's exclusion of prompts.
    app.ok(
        "registered-models/create",
        json!({"name": "p", "tags": [{"key": "mlflow.prompt.is_prompt", "value": "true"}]}),
    )
    .await;
    assert_eq!(
        names(
            &search("tag.`mlflow.prompt.is_prompt` != 'true'").await.1,
            "registered_models"
        )
        .len(),
        3
    );
    assert_eq!(
        names(
            &search("tags.`mlflow.prompt.is_prompt` = 'true'").await.1,
            "registered_models"
        ),
        ["p"]
    );

    let (_, page) = app
        .get(
            "registered-models/search",
            &[("max_results", "2"), ("order_by", "name DESC")],
        )
        .await;
    assert_eq!(names(&page, "registered_models"), ["beta", "alpha"]);
    let token = page["next_page_token"].as_str().unwrap().to_owned();
    let (_, rest) = app
        .get(
            "registered-models/search",
            &[
                ("max_results", "2"),
                ("order_by", "name DESC"),
                ("page_token", &token),
            ],
        )
        .await;
    assert_eq!(names(&rest, "registered_models"), ["Gamma"]);
    assert!(rest.get("next_page_token").is_none());

    for bad in [
        "run_id = 'x'",
        "tags.k IS NULL",
        "name = ",
        "name LIKE 5",
        "metrics.m > 1",
    ] {
        assert_error(&search(bad).await, 400, "INVALID_PARAMETER_VALUE");
    }
    assert_error(
        &app.get(
            "registered-models/search",
            &[("order_by", "creation_timestamp")],
        )
        .await,
        400,
        "INVALID_PARAMETER_VALUE",
    );
    assert_error(
        &app.get("registered-models/search", &[("max_results", "1001")])
            .await,
        400,
        "INVALID_PARAMETER_VALUE",
    );
    assert_error(
        &app.get("registered-models/search", &[("page_token", "garbage")])
            .await,
        400,
        "INVALID_PARAMETER_VALUE",
    );

    for _ in 0..3 {
        app.version("alpha").await;
    }
    app.ok(
        "model-versions/set-tag",
        json!({"name": "alpha", "version": "2", "key": "k", "value": "v"}),
    )
    .await;
    let versions = |v: &Value| -> Vec<String> {
        v["model_versions"].as_array().map_or(Vec::new(), |a| {
            a.iter()
                .map(|m| m["version"].as_str().unwrap().to_owned())
                .collect()
        })
    };
    let (_, all) = app
        .get("model-versions/search", &[("filter", "name = 'alpha'")])
        .await;
    assert_eq!(versions(&all), ["3", "2", "1"], "last updated first");
    let (_, asc) = app
        .get(
            "model-versions/search",
            &[
                ("filter", "name='alpha'"),
                ("order_by", "version_number ASC"),
            ],
        )
        .await;
    assert_eq!(versions(&asc), ["1", "2", "3"]);
    let (_, tagged) = app
        .get("model-versions/search", &[("filter", "tags.k = 'v'")])
        .await;
    assert_eq!(versions(&tagged), ["2"]);
    let (_, ge) = app
        .get(
            "model-versions/search",
            &[
                ("filter", "name = 'alpha' AND version_number > 1"),
                ("max_results", "1"),
            ],
        )
        .await;
    assert_eq!(versions(&ge).len(), 1);
    assert!(ge["next_page_token"].is_string());
    let run_of_1 = all["model_versions"][2]["run_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, by_run) = app
        .get(
            "model-versions/search",
            &[("filter", &format!("run_id IN ('{run_of_1}')"))],
        )
        .await;
    assert_eq!(versions(&by_run), ["1"]);
    for bad in [
        "version_number = 1.5",
        "source_path IN ('a')",
        "name IS NULL",
        "last_updated_timestamp > 1",
    ] {
        assert_error(
            &app.get("model-versions/search", &[("filter", bad)]).await,
            400,
            "INVALID_PARAMETER_VALUE",
        );
    }
    assert_error(
        &app.get("model-versions/search", &[("order_by", "run_id")])
            .await,
        400,
        "INVALID_PARAMETER_VALUE",
    );
}

async fn model_version_sources_are_checked(app: &TestApp) {
    app.model("src").await;
    let exp = app.experiment("src-exp").await;
    let run = app.run(&exp).await;
    let other = app.run(&exp).await;
    let create = |source: String, run_id: Option<&str>| {
        let mut body = json!({"name": "src", "source": source});
        if let Some(r) = run_id {
            body["run_id"] = json!(r);
        }
        app.post("model-versions/create", body)
    };
    for (source, run_id) in [
        (format!("runs:/{run}/model"), Some(other.as_str())),
        (format!("runs:/{run}/model"), None),
        ("/etc/passwd".to_owned(), Some(run.as_str())),
        ("file:///etc/passwd".to_owned(), None),
        ("relative/path".to_owned(), None),
        (
            format!("mlflow-artifacts:/{exp}/{other}/artifacts/model"),
            Some(run.as_str()),
        ),
        (
            format!("mlflow-artifacts:/{exp}/{run}/artifacts/../../{other}/artifacts"),
            Some(run.as_str()),
        ),
        ("s3://bucket/a/../b".to_owned(), None),
        ("models:/m-doesnotexist".to_owned(), None),
    ] {
        assert_error(
            &create(source.clone(), run_id).await,
            400,
            "INVALID_PARAMETER_VALUE",
        );
    }
    let ok = create(format!("runs:/{run}/model"), Some(&run)).await;
    assert_eq!(ok.0, 200, "{}", ok.1);
    let (_, uri) = app
        .get(
            "model-versions/get-download-uri",
            &[("name", "src"), ("version", "1")],
        )
        .await;
    assert_eq!(
        uri["artifact_uri"],
        format!("mlflow-artifacts:/{exp}/{run}/artifacts/model")
    );
    assert_eq!(create("s3://bucket/model".into(), None).await.0, 200);
    let (_, uri) = app
        .get(
            "model-versions/get-download-uri",
            &[("name", "src"), ("version", "2")],
        )
        .await;
    assert_eq!(uri["artifact_uri"], "s3://bucket/model");
    // A version's files are served through the version.
    let root = format!(
        "{}/api/2.0/mlflow-artifacts/artifacts/{exp}/{run}/artifacts/model/MLmodel",
        app.base
    );
    app.client
        .put(root)
        .body("flavors: {}")
        .send()
        .await
        .unwrap();
    let r = app
        .client
        .get(format!("{}/model-versions/get-artifact", app.base))
        .query(&[("name", "src"), ("version", "1"), ("path", "MLmodel")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "flavors: {}");
    let r = app
        .client
        .get(format!("{}/model-versions/get-artifact", app.base))
        .query(&[("name", "src"), ("version", "1"), ("path", "../../x")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

async fn logged_models_and_run_outputs(app: &TestApp) {
    let exp = app.experiment("lm").await;
    let run = app.run(&exp).await;
    let body = json!({"experiment_id": exp, "name": "model", "source_run_id": run, "model_type": "sk",
                      "params": [{"key": "alpha", "value": "0.1"}], "tags": [{"key": "t", "value": "1"}]});
    let created = app.ok("logged-models", body).await;
    let info = &created["model"]["info"];
    let id = info["model_id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("m-"));
    assert_eq!(info["status"], "LOGGED_MODEL_PENDING");
    assert_eq!(
        info["artifact_uri"],
        format!("mlflow-artifacts:/{exp}/models/{id}/artifacts")
    );
    assert_eq!(
        created["model"]["data"]["params"],
        json!([{"key": "alpha", "value": "0.1"}])
    );

    let (status, done) = app
        .patch(
            &format!("logged-models/{id}"),
            json!({"model_id": id, "status": "LOGGED_MODEL_READY"}),
        )
        .await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["model"]["info"]["status"], "LOGGED_MODEL_READY");
    let (status, _) = app
        .patch(&format!("logged-models/{id}"), json!({"status": 3}))
        .await;
    assert_eq!(status, 200, "status numbers are read too");
    assert_eq!(
        app.patch(
            &format!("logged-models/{id}/tags"),
            json!({"tags": [{"key": "u", "value": "2"}]})
        )
        .await
        .0,
        200
    );
    assert_eq!(
        app.delete(&format!("logged-models/{id}/tags/t"), json!({}))
            .await
            .0,
        200
    );
    assert_error(
        &app.delete(&format!("logged-models/{id}/tags/t"), json!({}))
            .await,
        404,
        "RESOURCE_DOES_NOT_EXIST",
    );
    let (_, got) = app.get(&format!("logged-models/{id}"), &[]).await;
    assert_eq!(
        got["model"]["info"]["tags"],
        json!([{"key": "u", "value": "2"}])
    );
    assert_eq!(got["model"]["info"]["status"], "LOGGED_MODEL_UPLOAD_FAILED");

    app.ok(
        "runs/outputs",
        json!({"run_id": run, "models": [{"model_id": id, "step": 0}]}),
    )
    .await;
    app.ok(
        "runs/outputs",
        json!({"run_id": run, "models": [{"model_id": id, "step": 0}]}),
    )
    .await;
    assert_eq!(
        app.get_run(&run).await["outputs"],
        json!({"model_outputs": [{"model_id": id, "step": 0}]})
    );
    app.ok(
        "runs/log-inputs",
        json!({"run_id": run, "models": [{"model_id": id}]}),
    )
    .await;
    assert_eq!(
        app.get_run(&run).await["inputs"]["model_inputs"],
        json!([{"model_id": id}])
    );

    let search = |body: Value| app.post("logged-models/search", body);
    let (_, found) =
        search(json!({"experiment_ids": [exp], "filter": "name = 'model' AND tags.u = '2'"})).await;
    assert_eq!(found["models"].as_array().unwrap().len(), 1);
    let (_, none) =
        search(json!({"experiment_ids": [exp], "filter": "params.alpha = '0.2'"})).await;
    assert!(none.get("models").is_none());
    assert_error(
        &search(json!({"experiment_ids": [exp], "filter": "bogus = 1"})).await,
        400,
        "INVALID_PARAMETER_VALUE",
    );
    assert_error(&search(json!({})).await, 400, "INVALID_PARAMETER_VALUE");

    // Registering from the logged model fills in its run and records the version on it.
    app.model("from-logged").await;
    let body = json!({"name": "from-logged", "source": format!("models:/{id}"), "model_id": id});
    let mv = app.ok("model-versions/create", body).await;
    assert_eq!(mv["model_version"]["run_id"], run.as_str());
    let (_, uri) = app
        .get(
            "model-versions/get-download-uri",
            &[("name", "from-logged"), ("version", "1")],
        )
        .await;
    assert_eq!(
        uri["artifact_uri"],
        format!("mlflow-artifacts:/{exp}/models/{id}/artifacts")
    );
    let (_, got) = app.get(&format!("logged-models/{id}"), &[]).await;
    let tags = got["model"]["info"]["tags"].as_array().unwrap();
    let versions = tags
        .iter()
        .find(|t| t["key"] == "mlflow.modelVersions")
        .unwrap();
    assert_eq!(
        versions["value"],
        r#"[{"name":"from-logged","version":"1"}]"#
    );

    assert_eq!(
        app.delete(&format!("logged-models/{id}"), json!({}))
            .await
            .0,
        200
    );
    assert_error(
        &app.get(&format!("logged-models/{id}"), &[]).await,
        404,
        "RESOURCE_DOES_NOT_EXIST",
    );
    assert_eq!(
        app.get(&format!("logged-models/{id}"), &[("allow_deleted", "true")])
            .await
            .0,
        200
    );
    assert_error(
        &app.get("logged-models/m-missing", &[]).await,
        404,
        "RESOURCE_DOES_NOT_EXIST",
    );
    assert_error(
        &app.post("logged-models", json!({"experiment_id": "999"}))
            .await,
        404,
        "RESOURCE_DOES_NOT_EXIST",
    );
    assert_error(
        &app.post("logged-models", json!({})).await,
        400,
        "INVALID_PARAMETER_VALUE",
    );
    assert_error(
        &app.post(
            "runs/outputs",
            json!({"run_id": run, "models": [{"model_id": ""}]}),
        )
        .await,
        400,
        "INVALID_PARAMETER_VALUE",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_version_creation_numbers_each_once_on_postgres() {
    let app = common::spawn("postgres").await;
    app.model("c").await;
    let exp = app.experiment("c-exp").await;
    let run = app.run(&exp).await;
    let body = json!({"name": "c", "source": format!("runs:/{run}/model"), "run_id": run});
    let calls = (0..20).map(|_| app.post("model-versions/create", body.clone()));
    let mut numbers: Vec<i64> = futures::future::join_all(calls)
        .await
        .into_iter()
        .map(|(status, v)| {
            assert_eq!(status, 200, "{v}");
            v["model_version"]["version"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=20).collect::<Vec<_>>());
}
