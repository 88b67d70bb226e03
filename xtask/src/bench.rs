use anyhow::Result;
pub fn server(_args: &[String]) -> Result<()> { anyhow::bail!("bench server: written next") }
