"""Placeholder until issue #5 lands its page."""
import streamlit as st

st.title("Forecast")
st.info("This page is being built.")
