//! Collectives and their public appeals.

use sqlx::any::AnyRow;

use crate::{get, Store, StoreError};
use panah_core::ledger::Rail;
use panah_core::{Lang, Slug, Timestamp};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collective {
    pub id: i64,
    pub slug: Slug,
    pub default_lang: Lang,
    pub created_at: Timestamp,
    /// Payment rails the collective keeps off its public pages.
    pub hidden_rails: Vec<Rail>,
}

/// A collective's public appeal in one language. Plain text; paragraphs separated by a
/// blank line. Rendered with escaping, never as HTML.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Appeal {
    pub name: String,
    pub tagline: String,
    pub story: String,
    pub needs: String,
    pub give: String,
}

impl Appeal {
    /// The name to show: the appeal's, or the slug when none was written in this language.
    pub fn display_name(&self, slug: &Slug) -> String {
        if self.name.trim().is_empty() {
            slug.to_string()
        } else {
            self.name.clone()
        }
    }
}

/// What an operator gives to create a collective.
#[derive(Debug, Clone)]
pub struct NewCollective {
    pub slug: Slug,
    pub default_lang: Lang,
    /// The collective's name in Dari, Pashto and English, in `Lang::ALL` order.
    pub names: [String; 3],
}

const COLLECTIVE_COLUMNS: &str = "id, slug, default_lang, created_at, hidden_rails";

fn collective_from_row(row: &AnyRow) -> Result<Collective, StoreError> {
    let slug: String = get(row, "slug")?;
    let lang: String = get(row, "default_lang")?;
    let created: String = get(row, "created_at")?;
    let hidden: String = get(row, "hidden_rails")?;
    let hidden_rails = hidden
        .split_whitespace()
        .map(|w| Rail::parse(w).ok_or_else(|| StoreError::Corrupt(format!("rail {w:?}"))))
        .collect::<Result<_, _>>()?;
    Ok(Collective {
        id: get(row, "id")?,
        slug: Slug::parse(&slug).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        default_lang: Lang::from_code(&lang).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        created_at: Timestamp::parse(&created).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        hidden_rails,
    })
}

impl Store {
    pub async fn create_collective(&self, new: &NewCollective) -> Result<Collective, StoreError> {
        let now = Timestamp::now();
        let mut tx = self.pool().begin().await?;
        let row = sqlx::query(&format!(
            "INSERT INTO collectives (slug, default_lang, created_at) VALUES ($1, $2, $3)
             RETURNING {COLLECTIVE_COLUMNS}"
        ))
        .bind(new.slug.as_str())
        .bind(new.default_lang.code())
        .bind(now.to_string())
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| {
            if StoreError::is_unique_violation(&e) {
                StoreError::Conflict(format!("a collective called {:?}", new.slug.as_str()))
            } else {
                e.into()
            }
        })?;
        let collective = collective_from_row(&row)?;
        for (lang, name) in Lang::ALL.iter().zip(&new.names) {
            sqlx::query(
                "INSERT INTO appeals (collective_id, lang, name, tagline, story, needs, give, updated_at)
                 VALUES ($1, $2, $3, '', '', '', '', $4)",
            )
            .bind(collective.id)
            .bind(lang.code())
            .bind(name.as_str())
            .bind(now.to_string())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(collective)
    }

    pub async fn collective(&self, slug: &Slug) -> Result<Option<Collective>, StoreError> {
        sqlx::query(&format!(
            "SELECT {COLLECTIVE_COLUMNS} FROM collectives WHERE slug = $1"
        ))
        .bind(slug.as_str())
        .fetch_optional(self.pool())
        .await?
        .as_ref()
        .map(collective_from_row)
        .transpose()
    }

    pub async fn collectives(&self) -> Result<Vec<Collective>, StoreError> {
        sqlx::query(&format!(
            "SELECT {COLLECTIVE_COLUMNS} FROM collectives ORDER BY slug"
        ))
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(collective_from_row)
        .collect()
    }

    /// Sets the payment rails the collective keeps off its public pages (none: show all).
    pub async fn set_hidden_rails(
        &self,
        collective_id: i64,
        rails: &[Rail],
    ) -> Result<(), StoreError> {
        let words: Vec<&str> = Rail::ALL
            .iter()
            .filter(|r| rails.contains(r))
            .map(|r| r.word())
            .collect();
        let done = sqlx::query("UPDATE collectives SET hidden_rails = $1 WHERE id = $2")
            .bind(words.join(" "))
            .bind(collective_id)
            .execute(self.pool())
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("collective {collective_id}")));
        }
        Ok(())
    }

    /// Replaces the appeal text in one language.
    pub async fn set_appeal(
        &self,
        collective_id: i64,
        lang: Lang,
        appeal: &Appeal,
    ) -> Result<(), StoreError> {
        let done = sqlx::query(
            "INSERT INTO appeals (collective_id, lang, name, tagline, story, needs, give, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (collective_id, lang) DO UPDATE SET
               name = excluded.name, tagline = excluded.tagline, story = excluded.story,
               needs = excluded.needs, give = excluded.give, updated_at = excluded.updated_at",
        )
        .bind(collective_id)
        .bind(lang.code())
        .bind(appeal.name.as_str())
        .bind(appeal.tagline.as_str())
        .bind(appeal.story.as_str())
        .bind(appeal.needs.as_str())
        .bind(appeal.give.as_str())
        .bind(Timestamp::now().to_string())
        .execute(self.pool())
        .await;
        match done {
            Ok(_) => Ok(()),
            Err(sqlx::Error::Database(e)) if e.is_foreign_key_violation() => {
                Err(StoreError::NotFound(format!("collective #{collective_id}")))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The appeal in one language, with when it was last changed.
    pub async fn appeal(
        &self,
        collective_id: i64,
        lang: Lang,
    ) -> Result<Option<(Appeal, Timestamp)>, StoreError> {
        let row = sqlx::query(
            "SELECT name, tagline, story, needs, give, updated_at FROM appeals
             WHERE collective_id = $1 AND lang = $2",
        )
        .bind(collective_id)
        .bind(lang.code())
        .fetch_optional(self.pool())
        .await?;
        let Some(row) = row else { return Ok(None) };
        let updated: String = get(&row, "updated_at")?;
        Ok(Some((
            Appeal {
                name: get(&row, "name")?,
                tagline: get(&row, "tagline")?,
                story: get(&row, "story")?,
                needs: get(&row, "needs")?,
                give: get(&row, "give")?,
            },
            Timestamp::parse(&updated).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        )))
    }
}
