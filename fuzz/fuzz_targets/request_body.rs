//! Every request message the API reads, from a JSON body (as `Mlflow<T>` reads POST,
//! PATCH and DELETE requests, double-encoded bodies included) and from a query string (as
//! it reads GET). The first byte picks the message; the rest is the body. Any input is
//! read or refused; nothing panics.
#![no_main]

use app::models::*;
use ferroflow::api::parse_json;
use libfuzzer_sys::fuzz_target;
use serde::de::DeserializeOwned;

fn read<T: DeserializeOwned>(body: &[u8]) {
    let _ = parse_json::<T>(body);
    if let Ok(query) = std::str::from_utf8(body) {
        let _ = serde_html_form::from_str::<T>(query);
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, body)) = data.split_first() else {
        return;
    };
    match which % 37 {
        0 => read::<CreateExperiment>(body),
        1 => read::<CreateLoggedModel>(body),
        2 => read::<CreateModelVersion>(body),
        3 => read::<CreateRegisteredModel>(body),
        4 => read::<CreateRun>(body),
        5 => read::<DeleteTag>(body),
        6 => read::<ExperimentIdRequest>(body),
        7 => read::<FinalizeLoggedModel>(body),
        8 => read::<GetExperimentByName>(body),
        9 => read::<GetLatestVersions>(body),
        10 => read::<GetMetricHistory>(body),
        11 => read::<GetMetricHistoryBulk>(body),
        12 => read::<ListArtifacts>(body),
        13 => read::<LogBatch>(body),
        14 => read::<LogInputs>(body),
        15 => read::<LogMetric>(body),
        16 => read::<LogModel>(body),
        17 => read::<LogOutputs>(body),
        18 => read::<LoggedModelKeyValues>(body),
        19 => read::<ModelAlias>(body),
        20 => read::<ModelVersionRequest>(body),
        21 => read::<RegisteredModelName>(body),
        22 => read::<RegisteredModelTag>(body),
        23 => read::<RenameRegisteredModel>(body),
        24 => read::<RunIdRequest>(body),
        25 => read::<RunKeyValue>(body),
        26 => read::<SearchExperiments>(body),
        27 => read::<SearchLoggedModels>(body),
        28 => read::<SearchRegistry>(body),
        29 => read::<SearchRuns>(body),
        30 => read::<SetExperimentTag>(body),
        31 => read::<TransitionStage>(body),
        32 => read::<UpdateExperiment>(body),
        33 => read::<UpdateRegisteredModel>(body),
        34 => read::<UpdateRun>(body),
        35 => read::<ArtifactQuery>(body),
        _ => read::<serde_json::Value>(body),
    }
});
