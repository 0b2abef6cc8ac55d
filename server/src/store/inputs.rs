//! Dataset inputs of runs (`runs/log-inputs`). A dataset is stored once per experiment
//! (by name and digest) and linked to every run that used it, with the link's tags.

use crate::db::{Conn, Db};
use crate::error::Result;
use crate::store::{IN_CHUNK, build};
use app::models::{Dataset, DatasetInput, KeyValue, RunInputs};
use sea_query::{Alias, Expr, IntoIden, Order, Query};
use sqlx::Row;
use std::collections::HashMap;

/// Links datasets to a run; linking the same dataset again is a no-op.
pub async fn log(conn: &mut Conn, run_id: i64, inputs: &[DatasetInput]) -> Result<()> {
    let experiment_id: i64 = sqlx::query_scalar("SELECT experiment_id FROM runs WHERE id = $1")
        .bind(run_id)
        .fetch_one(&mut *conn)
        .await?;
    for input in inputs {
        let d = &input.dataset;
        sqlx::query(
            "INSERT INTO datasets (dataset_uuid, experiment_id, name, digest, source_type, source, schema, profile) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (experiment_id, name, digest) DO NOTHING",
        )
        .bind(uuid::Uuid::new_v4().simple().to_string())
        .bind(experiment_id)
        .bind(&d.name)
        .bind(&d.digest)
        .bind(&d.source_type)
        .bind(&d.source)
        .bind(&d.schema)
        .bind(&d.profile)
        .execute(&mut *conn)
        .await?;
        let dataset_id: i64 = sqlx::query_scalar(
            "SELECT id FROM datasets WHERE experiment_id = $1 AND name = $2 AND digest = $3",
        )
        .bind(experiment_id)
        .bind(&d.name)
        .bind(&d.digest)
        .fetch_one(&mut *conn)
        .await?;
        let linked = sqlx::query(
            "INSERT INTO run_inputs (run_id, dataset_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(run_id)
        .bind(dataset_id)
        .execute(&mut *conn)
        .await?;
        if linked.rows_affected() == 0 {
            continue;
        }
        for tag in &input.tags {
            sqlx::query(
                "INSERT INTO run_input_tags (run_id, dataset_id, key, value) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(run_id)
            .bind(dataset_id)
            .bind(&tag.key)
            .bind(&tag.value)
            .execute(&mut *conn)
            .await?;
        }
    }
    Ok(())
}

/// The dataset inputs of many runs.
pub async fn load(db: &Db, run_ids: &[i64]) -> Result<HashMap<i64, RunInputs>> {
    let mut out: HashMap<i64, RunInputs> = HashMap::new();
    for chunk in run_ids.chunks(IN_CHUNK) {
        let mut q = Query::select();
        q.expr(Expr::col((Alias::new("i"), Alias::new("run_id"))))
            .expr(Expr::col((Alias::new("d"), Alias::new("id"))))
            .columns(
                [
                    "name",
                    "digest",
                    "source_type",
                    "source",
                    "schema",
                    "profile",
                ]
                .map(|c| (Alias::new("d"), Alias::new(c))),
            )
            .from_as(Alias::new("run_inputs"), Alias::new("i"))
            .inner_join(
                sea_query::TableRef::TableAlias(
                    Alias::new("datasets").into_iden(),
                    Alias::new("d").into_iden(),
                ),
                Expr::col((Alias::new("d"), Alias::new("id")))
                    .equals((Alias::new("i"), Alias::new("dataset_id"))),
            )
            .and_where(
                Expr::col((Alias::new("i"), Alias::new("run_id"))).is_in(chunk.iter().copied()),
            )
            .order_by((Alias::new("d"), Alias::new("name")), Order::Asc);
        let (sql, values) = build(&q, db.backend);
        let rows = sqlx::query_with(&sql, values).fetch_all(&db.pool).await?;
        let tags = input_tags(db, chunk).await?;
        for row in rows {
            let run_id: i64 = row.try_get(0)?;
            let dataset_id: i64 = row.try_get(1)?;
            out.entry(run_id)
                .or_default()
                .dataset_inputs
                .push(DatasetInput {
                    tags: tags.get(&(run_id, dataset_id)).cloned().unwrap_or_default(),
                    dataset: Dataset {
                        name: row.try_get(2)?,
                        digest: row.try_get(3)?,
                        source_type: row.try_get(4)?,
                        source: row.try_get(5)?,
                        schema: row.try_get(6)?,
                        profile: row.try_get(7)?,
                    },
                });
        }
    }
    Ok(out)
}

async fn input_tags(db: &Db, run_ids: &[i64]) -> Result<HashMap<(i64, i64), Vec<KeyValue>>> {
    let mut q = Query::select();
    q.columns(["run_id", "dataset_id", "key", "value"].map(Alias::new))
        .from(Alias::new("run_input_tags"))
        .and_where(Expr::col(Alias::new("run_id")).is_in(run_ids.iter().copied()))
        .order_by(Alias::new("key"), Order::Asc);
    let (sql, values) = build(&q, db.backend);
    let mut out: HashMap<(i64, i64), Vec<KeyValue>> = HashMap::new();
    for row in sqlx::query_with(&sql, values).fetch_all(&db.pool).await? {
        out.entry((row.try_get(0)?, row.try_get(1)?))
            .or_default()
            .push(KeyValue {
                key: row.try_get(2)?,
                value: row.try_get(3)?,
            });
    }
    Ok(out)
}
